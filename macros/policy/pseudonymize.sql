{#- A stable keyed pseudonym: HMAC-SHA256(key, value) as 64 hex characters, identical to
    pgcrypto's encode(hmac(value, key, 'sha256'), 'hex') and Python's hmac module, but written
    with the core sha256() function (PostgreSQL 11+) so it needs no extension.

    STABLE ON PURPOSE: the same value gives the same pseudonym in every row, run and release
    that uses the same key. That keeps joins working and RAISES LINKABILITY; the lineage lint
    and the release evidence flag it. Prefer mask_uuid when no join is needed.

    key_var: name of the key. key_source='var' (default) reads the dbt var of that name; the
    key then appears in compiled SQL and in the view definition (pg_views is readable by every
    role). key_source='setting' reads current_setting(key_var) at query time, so the key is
    never written anywhere; the session that reads the contract must SET it. NULL stays NULL. -#}
{% macro pseudonymize(col, key_var, key_source='var') -%}
{%- if key_source not in ['var', 'setting'] -%}
  {{ exceptions.raise_compiler_error("pseudonymize: key_source must be 'var' or 'setting', got '" ~ key_source ~ "'") }}
{%- endif -%}
{%- if key_source == 'var' -%}
  {%- set key = var(key_var, none) -%}
  {%- if key is none or (key | string | length) == 0 -%}
    {%- if execute -%}
      {{ exceptions.raise_compiler_error("pseudonymize: dbt var '" ~ key_var ~ "' (the pseudonymization key) is not set or empty") }}
    {%- endif -%}
    {%- set key_sql = "''" -%}
  {%- else -%}
    {%- set key_sql = "'" ~ (key | string | replace("'", "''")) ~ "'" -%}
  {%- endif -%}
{%- else -%}
  {%- set key_sql = "current_setting('" ~ (key_var | replace("'", "''")) ~ "')" -%}
{%- endif -%}
({{ adapter.dispatch('pseudonymize', 'synthdb')(col, key_sql) }} /* synthdb:policy=pseudonymize */)
{%- endmacro %}

{% macro default__pseudonymize(col, key_sql) -%}
{{ exceptions.raise_compiler_error("pseudonymize: no keyed hash known for adapter '" ~ adapter.type() ~ "'; add a <adapter>__pseudonymize macro") }}
{%- endmacro %}

{% macro postgres__pseudonymize(col, key_sql) -%}
{#- RFC 2104 HMAC with a 64-byte block: keys longer than the block are hashed first, then
    zero-padded; the padded key is XORed byte by byte with 0x36 (inner) and 0x5c (outer).
    The key pads are uncorrelated scalar subqueries, so PostgreSQL computes them once per
    query (InitPlan), not once per row. -#}
{%- set padded_key -%}
(select k || decode(repeat('00', 64 - length(k)), 'hex')
   from (select case when length(convert_to({{ key_sql }}, 'UTF8')) > 64
                     then sha256(convert_to({{ key_sql }}, 'UTF8'))
                     else convert_to({{ key_sql }}, 'UTF8') end as k) as synthdb_key)
{%- endset -%}
{%- set inner_pad = "(select decode(string_agg(lpad(to_hex(get_byte(" ~ padded_key ~ ", i) # 54), 2, '0'), '' order by i), 'hex') from generate_series(0, 63) as i)" -%}
{%- set outer_pad = "(select decode(string_agg(lpad(to_hex(get_byte(" ~ padded_key ~ ", i) # 92), 2, '0'), '' order by i), 'hex') from generate_series(0, 63) as i)" -%}
case when {{ col }} is null then null::text else
    encode(sha256({{ outer_pad }} || sha256({{ inner_pad }} || convert_to(({{ col }})::text, 'UTF8'))), 'hex')
end
{%- endmacro %}
