"""Rules fig_ridge_*: draw one figure of Study C and write its numbers table."""

from grokrepro.io import load_npz
from grokrepro.numbers import write_numbers
from grokrepro.ridge import plots
from grokrepro import provenance

provenance.start(snakemake)
fig, p, inp, out = snakemake.params.fig, dict(snakemake.params.p), snakemake.input, snakemake.output


def load(name):
    return load_npz(inp[name])[0]


if fig == "1":
    rows = plots.fig_1(load("ridge"), load("relu"), p, out.pdf, out.png)
elif fig == "2":
    rows = plots.fig_2(load("sweep"), load("engine"), p, out.pdf, out.png)
elif fig == "3":
    rows = plots.fig_sweep_generic(load("sweep"), p, out.pdf, out.png, bounds=True, tol=p["slope_tolerance"],
                                   kind="random ReLU features")
elif fig == "4":
    rows = plots.fig_sweep_generic(load("sweep"), p, out.pdf, out.png, bounds=False, tol=p["slope_tolerance"],
                                   kind="two-layer ReLU network (qualitative: loss decays as (1-eta lam)^(4t))")
elif fig == "5":
    rows = plots.fig_5(load("curves"), p, out.pdf, out.png)
elif fig == "6":
    rows = plots.fig_6(load("curves"), p, out.pdf, out.png)
elif fig == "7":
    rows = plots.fig_7(load("curves"), load("sweep"), p, out.pdf, out.png)
elif fig == "control":
    rows = plots.fig_control(load("control"), p, out.pdf, out.png)
else:
    raise ValueError(f"unknown ridge figure {fig!r}")
write_numbers(out.numbers, rows)
