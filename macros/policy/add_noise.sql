{#- Add zero-mean random noise, drawn afresh for every row: distribution 'laplace' (default,
    scale b), 'gaussian' (standard deviation = scale) or 'uniform' (on [-scale, scale]).
    The result is double precision; NULL stays NULL. Not differential privacy by itself:
    the scale is not calibrated to a sensitivity. -#}
{% macro add_noise(col, scale, distribution='laplace') -%}
{%- if distribution not in ['laplace', 'gaussian', 'uniform'] -%}
  {{ exceptions.raise_compiler_error("add_noise: distribution must be laplace, gaussian or uniform; got '" ~ distribution ~ "'") }}
{%- endif -%}
({{ adapter.dispatch('add_noise', 'synthdb')(col, scale, distribution) }} /* synthdb:policy=add_noise */)
{%- endmacro %}

{% macro default__add_noise(col, scale, distribution) -%}
{{ exceptions.raise_compiler_error("add_noise: no per-row random function known for adapter '" ~ adapter.type() ~ "'; add a <adapter>__add_noise macro") }}
{%- endmacro %}

{% macro postgres__add_noise(col, scale, distribution) -%}
{#- random() is volatile, so each call below is evaluated per row. Two independent draws
    build each noise value (a difference of two Exp(1) is Laplace(0, 1); Box-Muller for the
    normal), so no draw has to be reused. 1 - random() lies in (0, 1], safe for ln(). -#}
{%- if distribution == 'laplace' -%}
(({{ col }})::double precision + ({{ scale }}) * (ln(1.0 - random()) - ln(1.0 - random())))
{%- elif distribution == 'gaussian' -%}
(({{ col }})::double precision + ({{ scale }}) * sqrt(-2.0 * ln(1.0 - random())) * cos(2.0 * pi() * random()))
{%- else -%}
(({{ col }})::double precision + ({{ scale }}) * (2.0 * random() - 1.0))
{%- endif -%}
{%- endmacro %}
