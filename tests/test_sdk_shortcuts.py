"""The shortcuts of dcm_otel._sdk against the SDK's own path: the same spans and the same metric points, the
shortcut really taken where it should be, and the SDK's path where it must be or where a feature check turns
it off. These fail if the SDK internals the modules rely on change underneath; ``nox -s compat`` runs them on
the oldest and the newest SDK pyproject.toml allows."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from typing import Any
from unittest import mock

import pytest
from opentelemetry import context, trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.metrics import (
    AlwaysOffExemplarFilter,
    Histogram,
    MeterProvider,
    TraceBasedExemplarFilter,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, DEFAULT_ON, ParentBased, Sampler
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)
from packaging.version import Version

from dcm_otel._sdk import (
    bound_histograms,
    current_span,
    feature_checks,
    otlp_http_encoding,
    preset_ids,
    proxy_providers,
    span_chain,
    span_processor_order,
    span_starter,
    suppression,
)
from dcm_otel._sdk.bound_histograms import BoundHistogram, BoundHistograms
from dcm_otel._sdk.feature_check import FeatureCheck
from dcm_otel._sdk.span_starter import SpanStarter
from dcm_otel.config import Config
from dcm_otel.export.trace_encoding import TraceEncoder
from dcm_otel.providers import EXEMPLAR_FILTERS, build_sampler

SDK = Version(version("opentelemetry-sdk"))
#: The first SDK release with the internals a shortcut reads (docs/compatibility.md); on older ones its
#: check fails and the public path runs. The other shortcuts read what every SDK in our range has.
FAST_SINCE = {
    "span starter": Version("1.42"),
    "bound histograms": Version("1.45"),
    "OTLP encoder": Version("1.45"),  # the exporters' request size limit, HTTP client and metrics
    "processor metrics": Version("1.41"),  # the SDK's helper for otel.sdk.processor.* metrics
}


def fast_on_this_sdk(name: str) -> bool:
    return FAST_SINCE.get(name, Version("1.40")) <= SDK


def needs_fast_path(*names: str) -> pytest.MarkDecorator:
    """For a test of the shortcut itself; where the SDK predates it, the ``..._off`` tests cover the path."""
    off = [name for name in names if not fast_on_this_sdk(name)]
    return pytest.mark.skipif(bool(off), reason=f"SDK {SDK}: {off} take the public path")


ATTRIBUTES: dict[str, str | int] = {
    "db.system.name": "sqlite",
    "db.operation.name": "SELECT",
    "server.port": 5432,
}


def _pipeline(
    sampler: Sampler = DEFAULT_ON, limits: SpanLimits | None = None
) -> tuple[Any, InMemorySpanExporter]:
    provider = TracerProvider(sampler=sampler, span_limits=limits)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test", "1"), exporter


def _content(span: ReadableSpan) -> dict[str, Any]:
    """Everything exported about a span but its random ids."""
    assert span.context is not None
    return {
        "name": span.name,
        "kind": span.kind,
        "parent": span.parent,
        "trace_flags": span.context.trace_flags,
        "trace_state": span.context.trace_state,
        "is_remote": span.context.is_remote,
        "attributes": dict(span.attributes or {}),
        "dropped_attributes": span.dropped_attributes,
        "events": [(e.name, dict(e.attributes or {}), e.timestamp) for e in span.events],
        "links": list(span.links),
        "status": (span.status.status_code, span.status.description),
        "times": (span.start_time, span.end_time),
        "resource": span.resource,
        "scope": span.instrumentation_scope,
    }


def _parents(tracer: Any) -> dict[str, context.Context | None]:
    local = tracer.start_span("parent")
    remote = SpanContext(0x1234, 0x5678, True, TraceFlags(TraceFlags.SAMPLED), TraceState([("k", "v")]))
    unsampled = SpanContext(0x1234, 0x5678, True, TraceFlags(TraceFlags.DEFAULT))
    return {
        "root": None,
        "local": trace.set_span_in_context(local),
        "remote": trace.set_span_in_context(NonRecordingSpan(remote)),
        "remote, not sampled": trace.set_span_in_context(NonRecordingSpan(unsampled)),
    }


def _both_ways(tracer: Any, exporter: InMemorySpanExporter, parent: context.Context | None) -> list[Any]:
    exporter.clear()
    for span in (
        tracer.start_span("q", parent, SpanKind.CLIENT, attributes=ATTRIBUTES, start_time=10),
        SpanStarter(tracer).start("q", parent, SpanKind.CLIENT, ATTRIBUTES, 10),
    ):
        span.set_attribute("later", "x")
        span.add_event("e", {"a": 1}, timestamp=15)
        span.end(end_time=20)
    return list(exporter.get_finished_spans())


@pytest.mark.parametrize(
    "sampler",
    [DEFAULT_ON, ParentBased(ALWAYS_OFF), ALWAYS_ON],
    ids=["parentbased_always_on", "parentbased_always_off", "always_on"],
)
@pytest.mark.parametrize("parent", ["root", "local", "remote", "remote, not sampled"])
def test_a_started_span_is_the_one_the_tracer_makes(sampler: Sampler, parent: str) -> None:
    tracer, exporter = _pipeline(sampler)
    context_of = _parents(tracer)[parent]
    spans = _both_ways(tracer, exporter, context_of)
    if len(spans) == 0:
        return  # neither sampled
    sdk, shortcut = spans
    assert _content(shortcut) == _content(sdk)
    assert shortcut.context is not None
    assert sdk.context is not None
    assert shortcut.context.span_id != sdk.context.span_id
    assert (shortcut.context.trace_id == sdk.context.trace_id) is (parent != "root")


@needs_fast_path("span starter")
def test_the_shortcut_skips_the_sampler_and_keeps_the_processors() -> None:
    tracer, exporter = _pipeline()
    started: list[dict[str, Any]] = []
    processor = mock.Mock()
    processor.on_start.side_effect = lambda span, parent_context=None: started.append(dict(span.attributes))
    tracer.span_processor.add_span_processor(processor)
    starter = SpanStarter(tracer)
    parent = trace.set_span_in_context(tracer.start_span("parent"))
    started.clear()
    starter.start("warm", parent, SpanKind.CLIENT, ATTRIBUTES).end()
    with mock.patch.object(ParentBased, "should_sample", side_effect=AssertionError("sampler asked")):
        starter.start("q", parent, SpanKind.CLIENT, ATTRIBUTES).end()
    assert started == [ATTRIBUTES, ATTRIBUTES]
    assert [s.name for s in exporter.get_finished_spans()] == ["warm", "q"]
    assert processor.on_end.call_count == 2


def test_length_limits_and_custom_samplers_take_the_sdk_path() -> None:
    tracer, exporter = _pipeline(limits=SpanLimits(max_span_attribute_length=3))
    SpanStarter(tracer).start("q", None, SpanKind.CLIENT, ATTRIBUTES).end()
    assert exporter.get_finished_spans()[0].attributes == {
        **ATTRIBUTES,
        "db.system.name": "sql",
        "db.operation.name": "SEL",
    }

    class Named(Sampler):
        def should_sample(
            self, parent_context: Any, trace_id: int, name: str, *args: Any, **kwargs: Any
        ) -> Any:
            return (ALWAYS_OFF if name == "drop" else DEFAULT_ON).should_sample(
                parent_context, trace_id, name
            )

        def get_description(self) -> str:
            return "named"

    tracer, exporter = _pipeline(Named())
    for name in ("drop", "keep"):
        SpanStarter(tracer).start(name, None, SpanKind.CLIENT, ATTRIBUTES).end()
    assert [s.name for s in exporter.get_finished_spans()] == ["keep"]


def test_a_proxy_tracer_gets_the_shortcut_once_a_provider_is_set() -> None:
    proxy = trace.ProxyTracer("test")
    starter = SpanStarter(proxy)
    assert not starter.start("q", None, SpanKind.CLIENT, ATTRIBUTES).is_recording()  # no provider yet
    tracer, exporter = _pipeline()
    proxy._real_tracer = tracer  # what setting the global provider does for it
    starter.start("q", None, SpanKind.CLIENT, ATTRIBUTES).end()
    assert [s.name for s in exporter.get_finished_spans()] == ["q"]


def _points(reader: InMemoryMetricReader) -> list[tuple[str, dict[str, Any], Any]]:
    data = reader.get_metrics_data()
    assert data is not None
    return sorted(
        (
            (m.name, dict(p.attributes), (p.count, p.sum, tuple(p.bucket_counts), p.min, p.max))  # type: ignore[union-attr]
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
            for p in m.data.data_points
        ),
        key=repr,
    )


@pytest.mark.parametrize(
    "reader_options",
    [{}, {"preferred_temporality": {Histogram: AggregationTemporality.DELTA}}],
    ids=["cumulative", "delta"],
)
@pytest.mark.parametrize("views", [(), (View(instrument_name="*", attribute_keys={"db.system.name"}),)])
@pytest.mark.parametrize("filtered", [False, True], ids=["exemplars off", "exemplars on"])
def test_a_bound_histogram_records_what_the_histogram_would(
    reader_options: dict[str, Any], views: tuple[View, ...], filtered: bool
) -> None:
    results = []
    for bound in (False, True):
        reader = InMemoryMetricReader(**reader_options)
        exemplars = TraceBasedExemplarFilter() if filtered else AlwaysOffExemplarFilter()
        meter = MeterProvider(metric_readers=[reader], views=views, exemplar_filter=exemplars).get_meter(
            "test"
        )
        histogram = meter.create_histogram("d", unit="s")
        recorder = BoundHistogram(histogram, ATTRIBUTES)
        rounds = []
        for values in ((0.001, 0.2, 3.0), (0.5, -1.0, float("nan"))):
            for value in values:
                recorder.record(value) if bound else histogram.record(value, ATTRIBUTES)
            rounds.append(_points(reader))
        results.append(rounds)
    assert repr(results[0]) == repr(results[1])  # SDKs before 1.44 sum a NaN in, and nan != nan
    assert results[0][0][0][2][0] == 3  # three valid samples in the first collection


@needs_fast_path("bound histograms")
def test_the_bound_histogram_shortcut_adds_to_the_sdk_aggregation() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], exemplar_filter=AlwaysOffExemplarFilter())
    histogram = provider.get_meter("test").create_histogram("d")
    recorder = BoundHistogram(histogram, ATTRIBUTES)
    recorder.record(1.0)
    with mock.patch.object(type(histogram), "record", side_effect=AssertionError("public path taken")):
        recorder.record(2.0)
    assert _points(reader)[0][2][:2] == (2, 3.0)


@needs_fast_path("bound histograms")
def test_without_a_reader_a_bound_histogram_records_nothing_and_asks_nothing() -> None:
    """``metrics_exporter`` none leaves the provider without readers: a sample must not cost the public
    path's measurement (it made a request dearer than with metrics exported)."""
    provider = MeterProvider(metric_readers=[], exemplar_filter=AlwaysOffExemplarFilter())
    histogram = provider.get_meter("test").create_histogram("d")
    recorder = BoundHistogram(histogram, ATTRIBUTES)
    recorder.record(1.0)
    with (
        mock.patch.object(type(histogram), "record", side_effect=AssertionError("public path taken")),
        mock.patch.object(bound_histograms, "Measurement", side_effect=AssertionError("measurement made")),
    ):
        recorder.record(2.0)
    with mock.patch.object(type(histogram), "record") as record:
        recorder.record(-1.0)  # the SDK's own warning for a negative amount is kept
    record.assert_called_once_with(-1.0, ATTRIBUTES)


def test_bound_histograms_stay_bounded() -> None:
    reader = InMemoryMetricReader()
    histogram = MeterProvider(metric_readers=[reader]).get_meter("test").create_histogram("d")
    recorders = BoundHistograms(histogram, size=2)
    for route in ("/a", "/b", "/c", "/a", "/c"):
        recorders.record(1.0, route, {"http.route": route})
    assert len(recorders._bound) == 2
    assert {p[1]["http.route"]: p[2][0] for p in _points(reader)} == {"/a": 2, "/b": 1, "/c": 2}


@needs_fast_path("span starter", "bound histograms")
def test_dcm_otel_defaults_take_both_shortcuts() -> None:
    """The sampler and exemplar filter dcm_otel configures by default are ones the shortcuts apply to."""
    config = Config()
    tracer, exporter = _pipeline(build_sampler(config))
    starter = SpanStarter(tracer)
    starter.start("warm", None, SpanKind.SERVER, ATTRIBUTES).end()
    reader = InMemoryMetricReader()
    exemplars = EXEMPLAR_FILTERS[config.metrics_exemplar_filter]()
    histogram = (
        MeterProvider(metric_readers=[reader], exemplar_filter=exemplars).get_meter("t").create_histogram("d")
    )
    recorder = BoundHistogram(histogram, ATTRIBUTES)
    recorder.record(1.0)
    with (
        mock.patch.object(ParentBased, "should_sample", side_effect=AssertionError("sampler asked")),
        mock.patch.object(type(histogram), "record", side_effect=AssertionError("public path taken")),
    ):
        starter.start("root", None, SpanKind.SERVER, ATTRIBUTES).end()
        recorder.record(2.0)
    assert [s.name for s in exporter.get_finished_spans()] == ["warm", "root"]
    assert _points(reader)[0][2][:2] == (2, 3.0)


STARTUP = [feature.name for feature in feature_checks()]  # what check_features() runs at startup
# ... and the OTLP encoder's, run when the first OTLP exporter is made.
FEATURES = {feature.name: feature for feature in (*feature_checks(), otlp_http_encoding.FEATURE)}


@pytest.mark.parametrize("name", FEATURES)
def test_each_feature_check_knows_the_installed_sdk(name: str) -> None:
    """Neither a probe that passes on an SDK without the internals nor one that fails on an SDK with them."""
    feature = FEATURES[name]
    assert feature.name == name
    assert feature.available() is fast_on_this_sdk(name)
    assert FeatureCheck(name, "", feature._probe).available() is fast_on_this_sdk(name)  # not a cached answer


def _turn_off(monkeypatch: pytest.MonkeyPatch, feature: FeatureCheck) -> None:
    """As if the probe had failed on another SDK: its check runs again, and fails."""

    def changed() -> None:
        raise AttributeError("changed underneath")

    monkeypatch.setattr(feature, "_probe", changed)
    monkeypatch.setattr(feature, "_available", None)


def test_a_shortcut_turned_off_says_so_once(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    _turn_off(monkeypatch, span_starter.FEATURE)
    caplog.set_level("INFO", logger="dcm_otel")
    tracer, _ = _pipeline()
    for _ in range(2):
        SpanStarter(tracer).start("q", None, SpanKind.CLIENT, ATTRIBUTES).end()
    assert [r.getMessage() for r in caplog.records if r.name == "dcm_otel"] == [
        "dcm_otel: SDK shortcut span starter is off (AttributeError: changed underneath); "
        "spans start through Tracer.start_span"
    ]


@pytest.mark.parametrize("parent", ["root", "local", "remote", "remote, not sampled"])
def test_with_the_span_starter_off_spans_are_the_same(monkeypatch: pytest.MonkeyPatch, parent: str) -> None:
    _turn_off(monkeypatch, span_starter.FEATURE)
    tracer, exporter = _pipeline()
    spans = _both_ways(tracer, exporter, _parents(tracer)[parent])
    if spans:
        assert _content(spans[1]) == _content(spans[0])
    with mock.patch.object(ParentBased, "should_sample", wraps=DEFAULT_ON.should_sample) as sampler:
        SpanStarter(tracer).start("q", None, SpanKind.CLIENT, ATTRIBUTES).end()
    assert sampler.called  # the public path


def test_with_bound_histograms_off_points_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    _turn_off(monkeypatch, bound_histograms.FEATURE)
    results = []
    for bound in (False, True):
        reader = InMemoryMetricReader()
        histogram = MeterProvider(metric_readers=[reader]).get_meter("test").create_histogram("d")
        recorder = BoundHistogram(histogram, ATTRIBUTES)
        for value in (0.001, 0.2, 3.0, -1.0):
            recorder.record(value) if bound else histogram.record(value, ATTRIBUTES)
        results.append(_points(reader))
    assert results[0] == results[1]
    assert recorder._aggregations is None  # the public path


@needs_fast_path("current span read directly")
def test_the_current_span_read_directly_gives_the_public_ids() -> None:
    """Outside a span, inside a sampled SDK span, an unsampled one and a remote parent's."""
    direct = current_span.span_ids_reader()
    assert direct is not current_span.public_ids
    tracer = TracerProvider().get_tracer("test")
    unsampled = TracerProvider(sampler=ALWAYS_OFF).get_tracer("test")
    remote = NonRecordingSpan(SpanContext(0x5EED, 0x1D, is_remote=True, trace_flags=TraceFlags(1)))
    seen = [(direct(), current_span.public_ids())]
    for span in (tracer.start_span("s"), unsampled.start_span("u"), remote):
        with trace.use_span(span, end_on_exit=True):
            seen.append((direct(), current_span.public_ids()))
    assert [mine for mine, _ in seen] == [public for _, public in seen]
    assert seen[0][0] == (0, 0, 0)
    assert seen[1][0][0] & TraceFlags.SAMPLED
    assert not seen[2][0][0] & TraceFlags.SAMPLED
    assert seen[3][0] == (1, 0x5EED, 0x1D)


def test_preset_ids_give_a_span_the_ids_chosen_earlier() -> None:
    tracer, exporter = _pipeline()
    own = tracer.id_generator
    assert preset_ids.install(tracer) is own
    assert preset_ids.install(tracer) is own  # once per tracer
    wanted = SpanContext(0xABC, 0xDEF, False)
    with preset_ids.preset_span_ids(wanted):
        tracer.start_span("preset", context=context.Context()).end()
    tracer.start_span("fresh", context=context.Context()).end()
    preset, fresh = exporter.get_finished_spans()
    assert preset.context is not None
    assert fresh.context is not None
    assert (preset.context.trace_id, preset.context.span_id) == (0xABC, 0xDEF)
    assert fresh.context.span_id != 0xDEF
    preset_ids.uninstall(tracer)
    assert tracer.id_generator is own


def test_with_preset_ids_off_spans_get_their_own_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    _turn_off(monkeypatch, preset_ids.FEATURE)
    tracer, exporter = _pipeline()
    own = tracer.id_generator
    assert preset_ids.install(tracer) is None
    assert tracer.id_generator is own
    with preset_ids.preset_span_ids(SpanContext(0xABC, 0xDEF, False)):
        tracer.start_span("fresh", context=context.Context()).end()
    span = exporter.get_finished_spans()[0]
    assert span.context is not None
    assert span.context.span_id != 0xDEF


@pytest.mark.parametrize("fast", [True, False], ids=["first", "appended"])
def test_a_processor_added_first_flushes_first(monkeypatch: pytest.MonkeyPatch, fast: bool) -> None:
    if not fast:
        _turn_off(monkeypatch, span_processor_order.FEATURE)
    provider = TracerProvider()
    flushed: list[str] = []
    exporting, drain = mock.Mock(), mock.Mock()
    exporting.force_flush.side_effect = lambda timeout_millis=0: flushed.append("export") or True
    drain.force_flush.side_effect = lambda timeout_millis=0: flushed.append("drain") or True
    provider.add_span_processor(exporting)
    span_processor_order.add_first(provider, drain)
    provider.force_flush()
    assert flushed == (["drain", "export"] if fast else ["export", "drain"])
    span_processor_order.remove(provider, drain)
    flushed.clear()
    provider.force_flush()
    assert flushed == (["export"] if fast else ["export", "drain"])


def test_the_suppression_keys_are_those_of_the_public_context_managers() -> None:
    from opentelemetry.context import _SUPPRESS_HTTP_INSTRUMENTATION_KEY, _SUPPRESS_INSTRUMENTATION_KEY

    private = (_SUPPRESS_INSTRUMENTATION_KEY, _SUPPRESS_HTTP_INSTRUMENTATION_KEY)
    keys = (suppression.SUPPRESS_INSTRUMENTATION_KEY, suppression.SUPPRESS_HTTP_INSTRUMENTATION_KEY)
    assert keys == private
    assert suppression._public_keys() == private  # the fallback's, learnt through the public API


@pytest.mark.parametrize("fast", [True, False], ids=["private classes", "by module"])
def test_proxy_providers_are_told_from_real_ones(monkeypatch: pytest.MonkeyPatch, fast: bool) -> None:
    from opentelemetry._logs._internal import ProxyLoggerProvider
    from opentelemetry.metrics._internal import _ProxyMeterProvider
    from opentelemetry.sdk._logs import LoggerProvider

    if not fast:
        monkeypatch.setattr(proxy_providers, "_PROXIES", None)
    assert proxy_providers.meter_provider_unset(_ProxyMeterProvider())
    assert not proxy_providers.meter_provider_unset(MeterProvider())
    assert proxy_providers.logger_provider_unset(ProxyLoggerProvider())
    assert not proxy_providers.logger_provider_unset(LoggerProvider())


def test_init_runs_every_feature_check_at_startup() -> None:
    """A fallback is said when the process starts, not at its first request (a fresh interpreter: checks
    run once per process), in one INFO line per shortcut the installed SDK predates."""
    script = (
        "import logging, dcm_otel\n"
        "logging.basicConfig(level=logging.INFO, format='%(name)s %(levelname)s %(message)s')\n"
        "dcm_otel.init({f'instrument_{n}': False for n in ('django', 'db', 'docker', 'jobs', 'resources')})\n"
        "from dcm_otel._sdk import feature_checks\n"
        "print({f.name: f._available for f in feature_checks()})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == repr({name: fast_on_this_sdk(name) for name in STARTUP})
    said_off = [line for line in result.stderr.splitlines() if "SDK shortcut" in line]
    assert [line.split(" is off ")[0] for line in said_off] == [
        f"dcm_otel INFO dcm_otel: SDK shortcut {name}" for name in STARTUP if not fast_on_this_sdk(name)
    ]


class _Reading(SpanProcessor):
    """A processor that keeps what it is handed, declared reading-only (as dcm_otel's are)."""

    def __init__(self) -> None:
        self.ended: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span)


span_chain.reads_only(_Reading)


def _chained(*processors: SpanProcessor) -> tuple[TracerProvider, SpanStarter]:
    provider = TracerProvider()
    for processor in processors:
        provider.add_span_processor(processor)
    return provider, SpanStarter(provider.get_tracer("test", "1"))


@needs_fast_path("span starter")
def test_reading_processors_alone_get_the_span_itself_and_encode_it_alike() -> None:
    reading = _Reading()
    _, starter = _chained(reading)
    span: Any = starter.start("q", None, SpanKind.CLIENT, ATTRIBUTES, 10)
    span.add_event("e", {"a": 1}, timestamp=15)
    span.set_status(Status(StatusCode.ERROR, "boom"))
    span.end(end_time=20)
    assert reading.ended == [span]  # no copy
    chain = span._span_processor
    assert (chain._starts, chain._endings, chain._ends) == ((), (), (reading.on_end,))  # no no-op calls
    copy = sdk_trace._Span._readable_span(span)
    assert type(copy) is ReadableSpan
    assert _content(span) == _content(copy)
    assert TraceEncoder().encode([span]) == TraceEncoder().encode([copy])
    assert ExportTraceServiceRequest.FromString(TraceEncoder().encode([span])) == encode_spans([copy])
    span.set_attribute("late", 1)  # refused: an ended span does not change
    assert "late" not in (span.attributes or {})


@needs_fast_path("span starter")
def test_a_processor_of_the_users_gets_a_copy_and_only_its_own_methods_are_skipped() -> None:
    reading, started = _Reading(), []
    user = mock.Mock(spec=SpanProcessor)
    user.on_start.side_effect = lambda span, parent_context=None: started.append(span)
    _, starter = _chained(reading, user)
    span = starter.start("q", None, SpanKind.CLIENT, ATTRIBUTES)
    span.end()
    assert started == [span]
    ((ended,), _) = user.on_end.call_args
    assert type(ended) is ReadableSpan
    assert reading.ended == [ended]
    user._on_ending.assert_called_once_with(span)


@needs_fast_path("span starter")
def test_a_processor_added_while_a_span_is_open_gets_its_end() -> None:
    reading = _Reading()
    provider, starter = _chained(reading)
    span = starter.start("q", None, SpanKind.CLIENT, ATTRIBUTES)
    late = _Reading()
    provider.add_span_processor(late)
    span.end()
    assert len(late.ended) == 1
    assert type(late.ended[0]) is ReadableSpan  # a user's processor may keep it: a copy, as the SDK gives
    assert reading.ended == late.ended
    after = starter.start("r", None, SpanKind.CLIENT, ATTRIBUTES)
    after.end()
    assert late.ended[1:] == reading.ended[1:] == [after]


def test_with_the_span_chain_off_the_provider_calls_its_processors(monkeypatch: pytest.MonkeyPatch) -> None:
    _turn_off(monkeypatch, span_chain.FEATURE)
    reading = _Reading()
    provider, starter = _chained(reading)
    span: Any = starter.start("q", None, SpanKind.CLIENT, ATTRIBUTES)
    span.end()
    assert type(reading.ended[0]) is ReadableSpan
    assert span._span_processor is provider._active_span_processor


@pytest.mark.parametrize(
    ("added", "limit", "ended"),
    [
        ({"http.route": "/a/", "http.response.status_code": 200}, None, False),
        ({"db.system.name": "x", "http.route": "/a/"}, None, False),  # the SDK moves a replaced key last
        ({"http.route": "/a/", "http.response.status_code": 200}, 4, False),  # the oldest dropped
        ({"http.route": "/a/"}, None, True),  # refused
    ],
    ids=["new keys", "a replaced key", "over the count limit", "ended"],
)
def test_added_attributes_are_those_set_attributes_sets(
    added: dict[str, str | int], limit: int | None, ended: bool
) -> None:
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=limit))
    starter = SpanStarter(provider.get_tracer("test", "1"))
    spans: list[Any] = [starter.start("q", None, SpanKind.CLIENT, ATTRIBUTES) for _ in range(2)]
    for span in spans if ended else ():
        span.end()
    spans[0].set_attributes(added)
    span_starter.add_attributes(spans[1], added)
    sdk, shortcut = ((list(s.attributes.items()), s.dropped_attributes) for s in spans)
    assert shortcut == sdk
    span_starter.add_attributes(NonRecordingSpan(SpanContext(1, 2, False)), added)  # no error, no effect
