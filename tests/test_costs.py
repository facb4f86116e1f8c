"""The paper-preset cost summary the Snakefile prints before a paper-preset run."""
import json

from grokrepro import costs


def _job(study, rule, how, estimate_s):
    return {"study": study, "rule": rule, "output": f"results/paper/{study}/{rule}.npz", "how": how,
            "steps": 100.0, "unit": "epoch", "s_per_step": None if estimate_s is None else estimate_s / 100,
            "estimate_s": estimate_s}


COSTS = {"measured_on": {"host": "box", "cores": 2, "date": "2026-12-02 00:00 UTC"},
         "jobs": [_job("metastable", "metastable_trap", "measured", 60.0),
                  _job("metastable", "metastable_escape", "estimated", 3 * 3600.0),
                  _job("ridge", "ridge_two_layer_fig1", "estimated", 7200.0),
                  _job("dichotomy", "dichotomy_train_fig2a", "estimated", 30 * 86400.0),
                  _job("dichotomy", "dichotomy_train_fig1a", "not reached", None)]}


def test_summary_sums_each_study_and_flags_gpu_scale_jobs():
    lines = costs.summary(COSTS)
    assert "box" in lines[0] and "2026-12-02" in lines[0]
    study_a = next(line for line in lines if "Study A" in line)
    assert "3.0 h for 2 jobs (1 measured, 1 estimated from steady-state rates)" in study_a  # 60 s + 3 h
    study_b = next(line for line in lines if "Study B" in line)
    assert "0.0 min for 0 jobs (1 estimated from steady-state rates, 1 not reached); 1 GPU-scale" in study_b
    gpu = [line for line in lines if "GPU-scale:" in line]
    assert len(gpu) == 1 and "dichotomy_train_fig2a" in gpu[0] and "30.0 days" in gpu[0]
    assert [line.split(" (")[0].strip() for line in lines if "Study" in line] == [
        "Study A", "Study B", "Study C"]


def test_notice_only_for_the_paper_preset(tmp_path):
    assert costs.preset_notice("default", tmp_path) == []
    assert "missing" in costs.preset_notice("paper", tmp_path)[0]
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "paper_preset_costs.json").write_text(json.dumps(COSTS))
    assert costs.preset_notice("paper", tmp_path) == costs.summary(COSTS)


def test_committed_costs_file_reads():
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    lines = costs.preset_notice("paper", root)
    assert lines and "missing" not in lines[0]
    assert any("Study A" in line for line in lines)
