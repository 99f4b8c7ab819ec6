{#- The related release: customers and their transactions, published together (one
    transaction, PRIMARY KEY / FOREIGN KEY, zero orphans) or not at all. -#}
{{ config(
    materialized='publish',
    schema='partner_demo',
    alias='customers',
    enabled=var('synthdb_related_demo', false),
    publish={
        'from': 'synthetic_customers',
        'related': {'customer_transactions': 'synthetic_customer_transactions'},
        'recipient': 'partner_demo',
        'role': 'partner_demo_reader',
        'owner': 'analytics-engineering@example.com',
        'purpose': 'partner demand forecasting pilot (per-customer view)',
        'retention': 'P180D',
        'licence': 'internal evaluation only; no re-identification attempts',
    },
) }}
-- depends_on: {{ ref('synthetic_customers') }} {{ ref('synthetic_customer_transactions') }}
select * from {{ this }}
