{#- Share contract for partner_demo's related release (transactions of each customer). The
    customer key links to contract_customers (same keyed pseudonym); never released. -#}
{{ config(materialized='view', schema='synthdb_contracts', tags=['synthdb_contract'],
          enabled=var('synthdb_related_demo', false)) }}

select
    {{ synthdb.mask_uuid() }}                                              as transaction_id,
    {{ synthdb.pseudonymize('t.customer_id', 'partner_demo_customer') }}   as customer_key,
    {{ synthdb.collapse_rare('t.product_category', 50) }}                  as product_category,
    {{ synthdb.coarsen_date('t.event_at', 'hour') }}                       as event_hour,
    t.amount                                                               as amount,
    t.channel                                                              as channel
from {{ source('prod', 'transactions') }} as t
