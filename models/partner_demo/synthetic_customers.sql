{#- Related release, parent table: synthetic customers with fresh random keys (synth.key).
    Its two columns are coarse quasi-identifiers (k >= 10), so every synthetic row equals some
    training row, as ~99.98 % of holdout rows do: identical_match_tolerance 0.01 states that. -#}
{{ config(
    materialized='synthetic',
    schema='partner_demo_staging',
    enabled=var('synthdb_related_demo', false),
    synth={
        'source': 'contract_customers',
        'key': 'customer_key',
        'seed': var('synthdb_seed', none),
        'recipient': 'partner_demo',
        'privacy': {'quasi_identifiers': ['age_band', 'region'], 'k': 10,
                    'rare_min_count': 10, 'dcr_share_max': 0.55,
                    'identical_match_tolerance': 0.01},
    },
) }}
-- depends_on: {{ ref('contract_customers') }}
select * from {{ this }}
