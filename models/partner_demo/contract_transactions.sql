{#- Share contract for partner_demo: only the approved columns, each through its policy. -#}
{{ config(materialized='view', schema='synthdb_contracts', tags=['synthdb_contract']) }}

select
    {{ synthdb.mask_uuid('t.customer_id') }}                as customer_ref,
    {{ synthdb.age_band('c.birth_date', "date '2026-01-01'") }} as age_band,
    c.region                                                as region,
    c.gender                                                as gender,
    {{ synthdb.top_code('c.annual_income', 250000) }}       as annual_income,
    {{ synthdb.collapse_rare('t.product_category', 50) }}   as product_category,
    {{ synthdb.coarsen_date('t.event_at', 'month') }}       as event_month,
    t.amount                                                as amount,
    t.channel                                               as channel
    {%- if var('synthdb_related_demo', false) %},
    {#- The subject of synthetic_transactions (synth.privacy.subject): counted, never released.
        Same keyed pseudonym as contract_customers; only where that key is set (synthdb demo
        release sets the var and the key). #}
    {{ synthdb.pseudonymize('t.customer_id', 'partner_demo_customer') }} as customer_key
    {%- endif %}
from {{ source('prod', 'transactions') }} as t
join {{ source('prod', 'customers') }} as c on c.customer_id = t.customer_id
