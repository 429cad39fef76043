"""What theory predicts for the lab's nets at initialisation, before a single training step.

Run:    python theory.py                  (everything, at the sizes below: results/theory.json, figures)
        python theory.py --quick          (everything with a tenth of the nets: a first look in seconds)
        python theory.py born-dead --width 5 --depth 20
        python theory.py depth-scale --activation tanh --weight-variance 1.0 --bias-variance 0.05
        python theory.py depth-scale --init glorot
        python theory.py width            (Hanin's beta against the spread of ReLU activation lengths)
        python theory.py uniform          (U(0, 1) weights: the gradient's attenuation per layer)
Writes: results/theory.json (python theory.py), figures/theory_*.png
The formulas, their papers and what the numbers say: docs/theory.md. No TensorFlow: numpy and scipy.
"""

import json
import math
import time
from pathlib import Path

import data
from gradient_lab import cli
from gradient_lab.theory import born_dead
from gradient_lab.theory import mean_field
from gradient_lab.figures import theory as theory_figures
from gradient_lab.theory import tables as theory_tables
from gradient_lab.theory import uniform

# 1. The config: the project's nets (2 inputs, zero biases) and the Monte Carlo sizes.
WIDTHS = (5, 25)  # The width study's; 5 is the reference nets' width.
DEPTHS = (1, 2, 3, 5, 7, 10, 15, 20, 25, 30)  # The depth study's.
WIDTH_STUDY_DEPTHS = (1, 3, 5, 10, 15, 20)  # The width study's.
BORN_DEAD_NETS = 4000  # Standard error <= 0.008 on a probability.
LENGTH_NETS = 10000  # Nets per (width, depth) for the log length's variance.
UNIFORM_NETS, GLOROT_NETS = 200, 400
DRIFT_WIDTHS = (5, 10, 25, 100)  # The tanh width study's.
EXAMPLE = (1.5, 0.05)  # (sigma_w2, sigma_b2) of the mean-field example: tanh, off the critical line.
SEED = 0


def show_born_dead(x, width, depth, nets, seed):
    """2. ReLU + he_uniform nets that compute a constant at init (Lu et al. 2019).

    Same seed, same nets: this prints the p that `python theory.py` writes for this width and depth.
    """
    p, se = born_dead.born_dead_probability(width, depth, x, nets, seed)
    print(f"ReLU + he_uniform, {depth} x {width} units, zero biases; Monte Carlo over {nets} nets, {len(x)} inputs:")
    print(f"P(born dead) = {p:.3f} ± {se:.3f}")
    print("  (± one standard error; the training points surround the origin, so the first layer never dies there)")
    closed = born_dead.born_dead_closed_form(width, depth)
    print(f"closed form for one input, 1 - (1 - 2^-{width})^{depth} = {closed:.3f}")


def show_depth_scale(activation, sigma_w2, sigma_b2, width):
    """3. Mean-field depth scales of an infinitely wide net (Poole et al. 2016; Schoenholz et al. 2017)."""
    scales = mean_field.mean_field_depth_scales(sigma_w2, sigma_b2, activation)
    print(f"{activation}, sigma_w2 = {sigma_w2:g}, sigma_b2 = {sigma_b2:g}  (mean field: infinite width)")
    for name, key in [("q*", "q_star"), ("chi_1", "chi_1"), ("c*", "c_star"), ("chi_c", "chi_c")]:
        print(f"{name} = {scales[key]:.6g}")
    for name, key in [("xi_q", "xi_q"), ("xi_c", "xi_c"), ("trainable depth ~ 6 xi_c", "trainable_depth")]:
        print(f"{name} = {'infinite (no exponential depth limit)' if scales[key] is None else f'{scales[key]:.4g}'}")
    if scales["q_star"] == 0 and activation == "tanh":
        q = mean_field.length_map_iterates(sigma_w2, sigma_b2, 1.0, 1000)
        print(
            f"at q* = 0 the signal dies as a power law, q^l ~ 1/(2l): 1000 q^1000 = {1000 * q[-1]:.3f} (from q^0 = 1)"
        )
        gaussian = math.exp(mean_field.finite_width_log_length_drift(width))
        uniform = math.exp(mean_field.linear_log_length_drift("glorot_uniform", width, GLOROT_NETS, SEED)[0])
        print(f"at width {width} the typical net's q falls exponentially instead, x{uniform:.3f} per layer with")
        print(f"glorot_uniform weights (x{gaussian:.3f} with Gaussian ones, x1 with orthogonal ones):")
        print("a finite-width effect that mean-field theory (infinite width) leaves out; see docs/theory.md")


def show_width_against_depth(x, nets, seed, figure_dir):
    """4. The spread of ReLU activation lengths grows with beta = sum 1/n (Hanin and Rolnick 2018)."""
    rows = theory_tables.log_length_table(WIDTHS, WIDTH_STUDY_DEPTHS, x, nets, seed)
    print(f"Var[ln |h_L|^2] over {nets} ReLU nets per row (those alive at their input):")
    print("width depth  beta   he_uniform        5 beta   He-Gaussian: measured   exact   alive")
    for r in rows:
        print(f"{r['width']:5d} {r['depth']:5d} {r['beta']:5.2f}  {r['measured']:7.3f} ± {r['se']:.3f}", end="")
        print(f"  {r['predicted']:7.3f}   {r['measured_gaussian']:7.3f} ± {r['se_gaussian']:.3f}", end="")
        print(f"  {r['predicted_gaussian']:7.3f}  {r['alive']:.2f}")
    print(f"wrote {theory_figures.save_log_length_variance(rows, figure_dir / 'theory_log_length_variance.png')}")
    return rows


def show_uniform(x, y, nets, seed):
    """5. U(0, 1) weights, outside mean-field theory: the gradient's attenuation, measured at init."""
    print(mean_field.UNIFORM_NOTE)
    print(f"tanh, every kernel U(0, 1), zero biases: BCE gradient norms at init, geometric mean over {nets} nets")
    print("depth   first layer    last hidden layer   per layer, (first/last)^(1/(L-1))   mean of the last 3 ratios")
    rows = [uniform.uniform_attenuation(depth, x, y, nets, seed) for depth in DEPTHS]
    for r in rows:
        per_layer, near = (
            f"{r[key]:.3f}" if r[key] else "-" for key in ("attenuation_per_layer", "attenuation_near_output")
        )
        print(f"{r['depth']:5d}  {r['first_layer_grad_norm']:11.3e}  {r['last_layer_grad_norm']:11.3e}", end="")
        print(f"  {per_layer:>22}  {near:>14}")
    return rows


def everything(x, y, seed, figure_dir, results_path, fraction=1):
    """All four with `fraction` of the config's Monte Carlo sizes, with a short summary; writes the JSON and figures.

    `fraction` 1/10 (`--quick`) gives standard errors about 3 times larger; the JSON's config says which sizes ran.
    """
    started = time.perf_counter()
    dead_nets, length_nets, uniform_nets, glorot_nets = (
        round(n * fraction) for n in (BORN_DEAD_NETS, LENGTH_NETS, UNIFORM_NETS, GLOROT_NETS)
    )
    dead = theory_tables.born_dead_table(WIDTHS, DEPTHS, x, dead_nets, seed)
    print(f"wrote {theory_figures.save_born_dead(dead, figure_dir / 'born_dead.png')}")
    for r in (r for r in dead if r["width"] == 5 and r["depth"] in (10, 20, 30)):
        print(f"P(born dead), 5 x {r['depth']}: {r['p']:.3f} ± {r['se']:.3f} (one input: {r['closed_form']:.3f})")
    scales = theory_tables.tanh_depth_scale_summary(*EXAMPLE, width=5)
    example = scales["example"]
    print(f"tanh's edge of chaos at sigma_b2 = {EXAMPLE[1]}: sigma_w2 = {scales['critical_weight_variance']:.4f}")
    print(f"sigma_w2, sigma_b2 = {EXAMPLE}: xi_c = {example['xi_c']:.2f}, 6 xi_c = {example['trainable_depth']:.1f}")
    print(f"Glorot, zero biases: {scales['glorot']['note']}")
    drifts = theory_tables.linear_drift_table(DRIFT_WIDTHS, glorot_nets, seed)
    for r in drifts:
        factor = math.exp(r["drift"])
        print(f"linear {r['width']}-unit layers, {r['initializer']}: |h|^2 x{factor:.3f} per layer", end="")
        print(f" (Gaussian weights: x{math.exp(r['gaussian_drift']):.3f})")
    lengths = [
        row
        for width, initializer in [(width, "glorot_uniform") for width in WIDTHS] + [(5, "orthogonal")]
        for row in mean_field.tanh_lengths(width, DEPTHS, x, glorot_nets, seed, initializer)
    ]
    print(f"wrote {theory_figures.save_tanh_lengths(lengths, figure_dir / 'theory_tanh_lengths.png')}")
    results = {
        "born_dead": dead,
        "tanh_depth_scale": scales,
        "finite_width": lengths,
        "linear_drift": drifts,
        "log_length_variance": show_width_against_depth(x, length_nets, seed, figure_dir),
        "uniform_attenuation": show_uniform(x, y, uniform_nets, seed),
        "uniform_note": mean_field.UNIFORM_NOTE,
        "config": dict(
            seed=seed,
            born_dead_nets=dead_nets,
            length_nets=length_nets,
            uniform_nets=uniform_nets,
            glorot_nets=glorot_nets,
        ),
    }
    results["config"]["seconds"] = time.perf_counter() - started
    print(f"wrote {cli.atomic_write_text(results_path, json.dumps(results, indent=1) + chr(10))}")


def parse_flags(argv):
    parser = cli.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="--seed, --figure-dir, --results and --quick go before the subcommand; --quick is for the full run.",
    )
    parser.add_argument("--seed", type=cli.non_negative_int(), default=SEED, help="default: %(default)s")
    parser.add_argument("--figure-dir", default="figures", help="default: %(default)s")
    parser.add_argument("--results", default="results/theory.json", help="default: %(default)s")
    parser.add_argument("--quick", action="store_true", help="the full run with a tenth of the Monte Carlo nets")
    commands = parser.add_subparsers(dest="command", metavar="{born-dead,depth-scale,width,uniform}")
    dead = commands.add_parser("born-dead", help="P(a ReLU + he_uniform net is born dead) on the training inputs")
    dead.add_argument("--width", type=cli.positive_int(), default=5, help="default: %(default)s")
    dead.add_argument("--depth", type=cli.positive_int(), default=20, help="default: %(default)s")
    dead.add_argument("--nets", type=cli.positive_int(), default=BORN_DEAD_NETS, help="default: %(default)s")
    scale = commands.add_parser("depth-scale", help="mean-field q*, chi_1, c*, chi_c, xi_c and 6 xi_c")
    scale.add_argument("--activation", choices=sorted(mean_field.ACTIVATIONS), default="tanh")
    scale.add_argument("--weight-variance", type=cli.positive_float(), default=1.0, help="sigma_w2 = fan_in Var(W)")
    scale.add_argument("--bias-variance", type=cli.non_negative_float(), default=0.05, help="sigma_b2 = Var(b)")
    scale.add_argument("--init", choices=["glorot", "he_uniform", "uniform_0_1"], help="sigma_w2 from it, sigma_b2 0")
    scale.add_argument("--width", type=cli.positive_int(), default=5, help="square layers' width (default: 5)")
    width = commands.add_parser("width", help="Hanin's beta against Var[ln |h_L|^2]")
    width.add_argument("--nets", type=cli.positive_int(2), default=LENGTH_NETS, help="default: %(default)s")
    commands.add_parser("uniform", help="U(0, 1) attenuation").add_argument(
        "--nets", type=cli.positive_int(), default=UNIFORM_NETS
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_flags(argv)
    figure_dir = Path(args.figure_dir)
    if args.quick and args.command:
        cli.fail(f"--quick is for the full run; {args.command} takes its own sizes (theory.py {args.command} --help)")
    if args.command is None:  # Exit 2 on a bad output path now, before any work.
        cli.writable_dirs(figure_dir, Path(args.results).parent)
    elif args.command == "width":
        cli.writable_dirs(figure_dir)
    (x_train, y_train), _ = data.load_circles()  # The 500 training points, scaled to [-1, 1].
    if args.command == "born-dead":
        show_born_dead(x_train, args.width, args.depth, args.nets, args.seed)
    elif args.command == "depth-scale":
        try:
            if args.init:  # The project's Dense layers start with zero biases.
                args.weight_variance, args.bias_variance = (
                    mean_field.init_weight_variance(args.init, args.width),
                    0.0,
                )
            show_depth_scale(args.activation, args.weight_variance, args.bias_variance, args.width)
        except ValueError as error:  # U(0, 1), or a linear net whose length grows without bound.
            cli.fail(str(error))
    elif args.command == "width":
        show_width_against_depth(x_train, args.nets, args.seed, figure_dir)
    elif args.command == "uniform":
        show_uniform(x_train, y_train, args.nets, args.seed)
    else:
        everything(x_train, y_train, args.seed, figure_dir, args.results, fraction=0.1 if args.quick else 1)


if __name__ == "__main__":
    main()
