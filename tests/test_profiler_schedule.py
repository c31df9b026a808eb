"""torch.profiler's API on plugtorch.profiler: record_function, ProfilerActivity, schedule,
profile(schedule=, on_trace_ready=) with step(), tensorboard_trace_handler and Chrome traces."""
import json
import os

import pytest

import plugtorch as pt
from plugtorch.profiler import (ProfilerAction, ProfilerActivity, profile, record_function, schedule,
                                tensorboard_trace_handler)


def test_record_function_labels_a_range_with_its_ops_as_children():
    x = pt.ones(3)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        with record_function("outer"):
            y = x * 2
            with record_function("inner"):
                z = (y + 1).exp()
        w = x - 1
    assert z.tolist() == pytest.approx([20.085536923187668] * 3) and w.tolist() == [0.0] * 3
    ev = {e.name: e for e in prof.events()}
    outer, inner = ev["outer"], ev["inner"]
    assert [c.name for c in outer.cpu_children] == ["mul", "inner"]
    assert [c.name for c in inner.cpu_children] == ["add", "exp"]
    assert inner.cpu_parent is outer and ev["sub"].cpu_parent is None
    assert outer.start_us <= inner.start_us <= inner.end_us <= outer.end_us
    assert outer.is_user_annotation and not ev["mul"].is_user_annotation
    assert ev["mul"].input_shapes == [[3], []] and ev["mul"].device_type == "cpu"
    avg = {a.key: a for a in prof.key_averages()}
    assert avg["outer"].count == 1 and avg["mul"].count == 1


def test_record_function_decorator_and_outside_a_profile():
    @record_function("f")
    def f(t):
        return t.sin()

    assert f(pt.zeros(1)).tolist() == [0.0]     # no profile: nothing to record, no error
    with profile() as prof:
        f(pt.zeros(2))
        f(pt.zeros(2))
    fs = [e for e in prof.events() if e.name == "f"]
    assert len(fs) == 2 and all([c.name for c in e.cpu_children] == ["sin"] for e in fs)


def test_schedule_actions_as_torch():
    s = schedule(wait=1, warmup=1, active=2, repeat=2, skip_first=1)
    assert [s(i).name for i in range(11)] == ["NONE", "NONE", "WARMUP", "RECORD", "RECORD_AND_SAVE",
                                              "NONE", "WARMUP", "RECORD", "RECORD_AND_SAVE", "NONE", "NONE"]
    s = schedule(wait=2, warmup=1, active=1, skip_first=1, skip_first_wait=1)
    assert s(1) is ProfilerAction.WARMUP and s(2) is ProfilerAction.RECORD_AND_SAVE
    with pytest.warns(UserWarning, match="Profiler won't be using warmup"):
        schedule(wait=0, warmup=0, active=1)
    with pytest.raises(AssertionError, match=r"Invalid profiler schedule arguments. Got wait=0 .* active=0 \(need > 0\)"):
        schedule(wait=0, warmup=1, active=0)


def test_steps_and_trace_ready_counts():
    calls = []

    def ready(p):
        calls.append((p.step_num, [e.name for e in p.events()].count("mul"),
                      sorted(e.name for e in p.events() if e.name.startswith("ProfilerStep"))))

    with profile(schedule=schedule(wait=1, warmup=1, active=2, repeat=2), on_trace_ready=ready) as p:
        for i in range(10):
            pt.ones(2) * i
            p.step()
    # torch 2.13 gives [(4, 2), (8, 2)] for the same loop
    assert calls == [(4, 2, ["ProfilerStep#2", "ProfilerStep#3"]), (8, 2, ["ProfilerStep#6", "ProfilerStep#7"])]
    calls.clear()
    with profile(schedule=schedule(wait=1, warmup=1, active=2), on_trace_ready=ready) as p:
        for i in range(3):
            pt.ones(2) * i
            p.step()
    assert [c[:2] for c in calls] == [(3, 1)]    # exit during the cycle: saved with what it has (torch: same)


def test_tensorboard_trace_handler_writes_parseable_chrome_traces(tmp_path):
    d = str(tmp_path / "logs")
    with profile(schedule=schedule(wait=0, warmup=1, active=1, repeat=2),
                 on_trace_ready=tensorboard_trace_handler(d, worker_name="w0")) as p:
        for i in range(5):
            with record_function("train_step"):
                (pt.ones(2) + i).sum()
            p.step()
    files = sorted(os.listdir(d))
    assert len(files) == 2 and all(f.startswith("w0.") and f.endswith(".pt.trace.json") for f in files)
    for f in files:
        with open(os.path.join(d, f)) as fh:
            doc = json.load(fh)
        evs = doc["traceEvents"]
        names = [e["name"] for e in evs]
        assert names.count("train_step") == 1 and names.count("add") == 1 and names.count("sum") == 1
        step = next(e for e in evs if e["name"] == "train_step")
        add = next(e for e in evs if e["name"] == "add")
        assert step["cat"] == "user_annotation" and add["cat"] == "cpu_op" and add["ph"] == "X"
        assert step["ts"] <= add["ts"] and add["ts"] + add["dur"] <= step["ts"] + step["dur"]
        assert add["pid"] == os.getpid()
    with profile() as p:
        pt.ones(1).exp()
    gz = str(tmp_path / "t.json.gz")
    p.export_chrome_trace(gz)
    import gzip
    with gzip.open(gz, "rt") as fh:
        assert [e["name"] for e in json.load(fh)["traceEvents"]] == ["full", "exp"]


def test_activities_checked():
    assert ProfilerActivity.CPU in pt.profiler.supported_activities()
    assert profile(activities=[ProfilerActivity.CPU, ProfilerActivity.OPENCL]).sync
    with pytest.raises(TypeError, match="activities must be ProfilerActivity members .*got 'cpu'"):
        profile(activities=["cpu"])


@pytest.mark.skipif(not pt.opencl.is_available(), reason="no OpenCL device")
def test_device_ops_are_recorded_with_their_device():
    x = pt.ones(4, device="opencl")
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.OPENCL]) as prof:
        with record_function("r"):
            (x * 2).exp()
    ev = {e.name: e for e in prof.events()}
    assert [c.name for c in ev["r"].cpu_children] == ["mul", "exp"]
    assert ev["mul"].device_type == "opencl" and ev["exp"].device_type == "opencl" and prof.sync
