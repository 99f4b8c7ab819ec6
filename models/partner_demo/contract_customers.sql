{#- Share contract for partner_demo's related release (customers): one row per customer.
    The customer key is a keyed pseudonym, only so the two contracts can be linked; the
    synthetic models never learn it (synth.key: every release writes fresh random keys).
    (No income here: its top-coded spike made the identical-match check a coin toss.)
    Built only with --vars '{synthdb_related_demo: true}' (synthdb demo release sets it). -#}
{{ config(materialized='view', schema='synthdb_contracts', tags=['synthdb_contract'],
          enabled=var('synthdb_related_demo', false)) }}

select
    {{ synthdb.pseudonymize('c.customer_id', 'partner_demo_customer') }} as customer_key,
    {{ synthdb.age_band('c.birth_date', "date '2026-01-01'") }}          as age_band,
    c.region                                                              as region,
    c.gender                                                              as gender
from {{ source('prod', 'customers') }} as c
