{#- Share contract for partner_demo's related release (customers): one row per customer.
    The customer key is a keyed pseudonym, only so the two contracts can be linked; the
    synthetic models never learn it (synth.key: every release writes fresh random keys).
    (No income here: its top-coded spike made the identical-match check a coin toss.)
    Coarser than the flattened release, because the group is also gated on the joined release
    (each combination of the customer's and a transaction's quasi-identifiers held by >= 10
    synthetic customers): with 10-year bands and gender, 129 of 885 (age band, region, gender,
    channel) combinations were held by fewer than 10 customers, the smallest by 1 (the 1.4 %
    'unspecified' gender splits every class); without gender, 8 of 344 (a rare '20-29' band).
    20-year bands (80+ on top), no gender: smallest 23 customers, recounted on the same rows.
    Built only with --vars '{synthdb_related_demo: true}' (synthdb demo release sets it). -#}
{{ config(materialized='view', schema='synthdb_contracts', tags=['synthdb_contract'],
          enabled=var('synthdb_related_demo', false)) }}

select
    {{ synthdb.pseudonymize('c.customer_id', 'partner_demo_customer') }} as customer_key,
    {{ synthdb.age_band('c.birth_date', "date '2026-01-01'", 20, 80) }}  as age_band,
    c.region                                                              as region
from {{ source('prod', 'customers') }} as c
