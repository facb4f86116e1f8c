"""Study C figures as a reader sees them (issue 16): mathtext numbers, a labelled tick at every
swept value, at least two labelled ticks on every log axis, what a log axis cannot show said in a
note (t = 0, a vacuous bound, a t never reached), legends outside the panels, and the control
figure's zero gap at 0 on its axis with settings named by the values they set."""
import io

import matplotlib.pyplot as plt
import numpy as np
import pytest

import ridge_synthetic as syn
from grokrepro.ridge import plots

P2 = {"eta": 1.0, "eps": 0.01, "c": 0.01, "t_max": 10**7, "slope_tolerance": 0.05, "defaults": syn.DEFAULTS,
      "grids": syn.GRIDS}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def drawn(fig):
    fig.savefig(io.BytesIO(), format="png", dpi=30)
    return fig


def notes(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


@pytest.mark.parametrize("v,tex", [(100, "100"), (5000.0, "5000"), (0.01, "0.01"), (0.25, "0.25"), (1e-5, "10^{-5}"),
                                   (3e-5, r"3{\times}10^{-5}"), (0.000819, r"8.19{\times}10^{-4}"), (1e7, "10^{7}"),
                                   (3e6, r"3{\times}10^{6}"), (0.0, "0")])
def test_tex_number(v, tex):
    assert plots.tex_number(v) == tex


def test_sweep_panels_label_every_value_and_two_ticks_at_least():
    S = syn.sweep(grids={"lam": [1e-5, 3e-5, 1e-4], "n": [50, 100, 200]})
    S["n__t1"] = S["n__t1"] * 0 + 300 * (1 + 0.1 * np.arange(3))[:, None]  # spans less than a decade
    fig, _ = plots.fig_2(S, syn.engine(), dict(P2, grids={"lam": [1e-5, 3e-5, 1e-4], "n": [50, 100, 200]}))
    drawn(fig)
    lam_ax, n_ax = fig.axes[:2]
    assert [t.get_text() for t in lam_ax.get_xticklabels()] == ["$10^{-5}$", r"$3{\times}10^{-5}$", "$10^{-4}$"]
    assert [t.get_text() for t in n_ax.get_xticklabels()] == ["$50$", "$100$", "$200$"]
    assert (lam_ax.get_title(), lam_ax.get_xlabel()) == ("weight decay", r"$\lambda$")
    for ax in (lam_ax, n_ax):
        lo, hi = ax.get_ylim()
        labelled = [t for t, lab in zip(ax.get_yticks(), ax.get_yticklabels()) if lo <= t <= hi and lab.get_text()]
        assert len(labelled) >= 2
    assert not any(ax.get_legend() for ax in fig.axes) and len(fig.legends) == 1  # one legend, outside


def test_sweep_says_what_its_log_axes_cannot_show():
    grids = {"lam": [1e-5, 1e-4], "nu2": [1.0, 10.0, 100.0]}
    S = syn.sweep(grids=grids)
    S["nu2__t1"][0] = 0.0  # training loss below ε from the start
    S["nu2__t2_bound"][0] = 0.0  # vacuous bound
    S["nu2__t2"][2, :2] = np.nan  # two of three seeds never reach c ...
    S["nu2__t2"][2, 2] = np.nan  # ... and the third neither: the median is not drawn
    fig, _ = plots.fig_2(S, syn.engine(), dict(P2, grids=grids))
    text = "\n".join(notes(drawn(fig)))
    assert r"▼ $t_1$ = 0 at $\nu^2 = 1$" in text
    assert r"$t_2$ bound (Eq. 8) ≤ 0 (vacuous)" in text and r"at $\nu^2 = 1$, not drawn" in text
    assert r"$t_2$ not reached in $10^{7}$ steps" in text and r"at $\nu^2 = 100$" in text
    t1_line = fig.axes[1].get_lines()[0]
    assert np.isnan(t1_line.get_ydata()[0]) and np.isfinite(t1_line.get_ydata()[1:]).all()  # no line down to 0
    # the same sweep without those cases has no notes
    fig, _ = plots.fig_2(syn.sweep(grids=grids), syn.engine(), dict(P2, grids=grids))
    assert notes(drawn(fig)) == []


def test_curves_say_a_t2_never_reached():
    C = syn.curves([[100.0, 200.0]], [[np.nan, 3000.0]], accuracy=True)
    fig, _ = plots.fig_5(C, P2)
    assert notes(drawn(fig)) == ["$t_2$ not reached in $10^{7}$ steps\nby 1 of 2 replicas"]
    assert len(fig.legends) == 1 and not any(ax.get_legend() for ax in fig.axes)


def test_control_zero_gap_sits_at_zero_and_settings_are_named_by_their_values():
    fig, _ = plots.fig_control(syn.control((0.05, 0.0, 10.0, 2.0)), syn.CONTROL_P)
    drawn(fig)
    ax = fig.axes[1]
    assert ax.get_xscale() == "symlog" and ax.get_xlim()[0] == 0
    widths = [bar.get_width() for bar in ax.patches]
    assert widths[2] == 0 and min(widths[:2] + widths[3:]) > 0  # eliminate_nu2: a gap of 0 is a bar of 0
    assert "0" in notes(fig)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == r"default: $\lambda = 10^{-4}$, $\nu^2 = 1$"
    assert labels[2].startswith(r"eliminate: $\nu^2 = ") and labels[3] == r"amplify: $\lambda = 10^{-5}$"
    assert not any("_" in lab.split(":")[0] for lab in labels)  # no config names
