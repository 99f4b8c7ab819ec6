{#- The release: published to schema partner_demo for role partner_demo_reader, only if the
    stored privacy verdict of the synthetic run passed. -#}
{{ config(
    materialized='publish',
    schema='partner_demo',
    alias='transactions',
    publish={
        'from': 'synthetic_transactions',
        'recipient': 'partner_demo',
        'role': 'partner_demo_reader',
        'owner': 'analytics-engineering@example.com',
        'purpose': 'partner demand forecasting pilot',
        'retention': 'P180D',
        'licence': 'internal evaluation only; no re-identification attempts',
    },
) }}
-- depends_on: {{ ref('synthetic_transactions') }}
select * from {{ this }}
