{#- Synthetic rows learned from the contract (sequential trees, the default; the copula when
    synthdb_epsilon is set), written to the isolated staging
    schema. The body selects from the model itself, so `dbt show` prints synthetic rows only. -#}
{{ config(
    materialized='synthetic',
    schema='partner_demo_staging',
    synth={
        'source': 'contract_transactions',
        'mode': 'synthesize',
        'seed': var('synthdb_seed', none),
        'recipient': 'partner_demo',
        'report': {'target': 'product_category', 'protected_attributes': ['gender', 'age_band']},
        'columns': {'customer_ref': {'method': 'mock'}},
        'generator': {
            'epsilon': var('synthdb_epsilon', none),
            'dp_bounds': {'annual_income': [0, 250000], 'amount': [0, 10000],
                          'event_month': ['2024-01-01', '2026-01-01']},
        },
        'utility': var('synthdb_utility', none),
        'privacy': {
            'subject': ('customer_key' if var('synthdb_related_demo', false) else none),
            'quasi_identifiers': ['age_band', 'region', 'gender'],
            'k': var('synthdb_k', 10),
            'rare_min_count': 10,
            'dcr_share_max': 0.55,
        },
    },
) }}
-- depends_on: {{ ref('contract_transactions') }}
select * from {{ this }}
