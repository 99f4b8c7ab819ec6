{#- A stable keyed pseudonym: HMAC-SHA256(key, value::text) as 64 hex characters, identical to
    pgcrypto's encode(hmac(value, key, 'sha256'), 'hex') and Python's hmac module.

    STABLE ON PURPOSE: the same value gives the same pseudonym in every row, run and release
    that uses the same key. That keeps joins working and RAISES LINKABILITY; the lineage lint
    flags it, and a synthetic model refuses to learn such a column unless its config says
    synth.allow_stable_pseudonyms (then linkability is measured on the report card). Prefer
    mask_uuid when no join is needed.

    key_name: the NAME of a key stored with `synthdb key set <key_name>`. The key itself never
    appears in SQL: the view calls synthdb_keys.pseudonym(value, key_name), an owner-run
    (SECURITY DEFINER) function reading an owner-only table, so pg_views, target/ and dbt's
    logs show the key's name only. NULL stays NULL. -#}
{% macro pseudonymize(col, key_name, key_source=none) -%}
{%- if key_source is not none -%}
  {{ exceptions.raise_compiler_error("pseudonymize: key_source is gone: keys never travel in SQL (a dbt var or a setting ended up in the view definition or in logs). Store the key with `synthdb key set " ~ key_name ~ "` and call pseudonymize(col, '" ~ key_name ~ "')") }}
{%- endif -%}
{%- if not (key_name is string) or not modules.re.match('^[A-Za-z_][A-Za-z0-9_]{0,62}$', key_name) -%}
  {{ exceptions.raise_compiler_error("pseudonymize: key_name must be the name of a stored key (letters, digits, _), e.g. pseudonymize('email', 'partner_key')") }}
{%- endif -%}
({{ adapter.dispatch('pseudonymize', 'synthdb')(col, key_name) }} /* synthdb:policy=pseudonymize */)
{%- endmacro %}

{% macro default__pseudonymize(col, key_name) -%}
{{ exceptions.raise_compiler_error("pseudonymize: no keyed hash known for adapter '" ~ adapter.type() ~ "'; add a <adapter>__pseudonymize macro") }}
{%- endmacro %}

{% macro postgres__pseudonymize(col, key_name) -%}
{%- if execute -%}
  {%- set store = run_query("select to_regprocedure('synthdb_keys.pseudonym(text,text)') is not null") -%}
  {%- if store is not none and not store.columns[0].values()[0] -%}
    {{ exceptions.raise_compiler_error("pseudonymize: no key store in this database; run `synthdb key set " ~ key_name ~ "` (the key is kept out of SQL)") }}
  {%- endif -%}
{%- endif -%}
synthdb_keys.pseudonym(({{ col }})::text, '{{ key_name }}')
{%- endmacro %}
