{#- Related release, child table: each synthetic customer's transactions, generated in the
    context of synthetic_customers' staged rows (count per customer, categories and amounts
    given the customer, hours in order); customer_key holds the synthetic customer's key.
    Four columns only: a few rows equal a training row by chance (2 of 10,000 against 4 of
    40,306 holdout rows in one run), so identical_match_tolerance 0.001 keeps the check from
    being a coin toss at zero; DCR share and membership inference stay at their defaults.
    Quasi-identifier: the channel (the flattened release declares none of the transaction's
    columns). The group is gated on the joined release too: each (age band, region, channel)
    combination must be held by >= 10 synthetic customers (contract_customers says why its
    bands are 20 years wide); with product_category also declared, 283 of 1,759
    combinations had fewer. -#}
{{ config(
    materialized='synthetic',
    schema='partner_demo_staging',
    enabled=var('synthdb_related_demo', false),
    synth={
        'source': 'contract_customer_transactions',
        'key': 'transaction_id',
        'parent': {'model': 'synthetic_customers', 'key': 'customer_key'},
        'seed': var('synthdb_seed', none),
        'recipient': 'partner_demo',
        'privacy': {'quasi_identifiers': ['channel'], 'k': 10,
                    'rare_min_count': 10, 'dcr_share_max': 0.55,
                    'identical_match_tolerance': 0.001},
    },
) }}
-- depends_on: {{ ref('contract_customer_transactions') }}
-- depends_on: {{ ref('synthetic_customers') }}
select * from {{ this }}
