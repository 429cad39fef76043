"""Data contract: shapes, scaling, split, class balance, determinism, and the data script."""

import numpy as np

import data
from conftest import assert_png_shows


def test_shapes_and_split():
    (x_train, y_train), (x_test, y_test) = data.load_circles()
    assert x_train.shape == (500, 2) and x_test.shape == (500, 2)
    assert y_train.shape == (500,) and y_test.shape == (500,)
    assert x_train.dtype == np.float32 and y_train.dtype == np.float32


def test_inputs_scaled_to_minus_one_one():
    (x_train, _), (x_test, _) = data.load_circles()
    x = np.concatenate([x_train, x_test])
    np.testing.assert_allclose(x.min(axis=0), [-1, -1], atol=1e-6)
    np.testing.assert_allclose(x.max(axis=0), [1, 1], atol=1e-6)


def test_split_is_first_half_train_last_half_test():
    from sklearn.datasets import make_circles

    _, y = make_circles(n_samples=1000, noise=0.1, random_state=1)
    (_, y_train), (_, y_test) = data.load_circles()
    np.testing.assert_array_equal(y_train, y[:500])
    np.testing.assert_array_equal(y_test, y[500:])


def test_classes_are_balanced():
    (_, y_train), (_, y_test) = data.load_circles()
    assert set(np.unique(y_train)) == {0.0, 1.0}
    assert 0.45 < data.class_balance(y_train) < 0.55
    assert 0.45 < data.class_balance(y_test) < 0.55


def test_deterministic_and_seed_dependent():
    first, second = data.load_circles(), data.load_circles()
    np.testing.assert_array_equal(first[0][0], second[0][0])
    other = data.load_circles(data_seed=2)
    assert not np.array_equal(first[0][0], other[0][0])


def test_data_script_writes_figure_and_prints_balance(tmp_path, run_main):
    status, out, err = run_main("data", "--figure-dir", tmp_path / "figures")  # test_script_contracts runs it alone.
    assert status == 0, err
    (x_train, y_train), (x_test, y_test) = data.load_circles()
    train, test = (f"{100 * np.mean(y == 1):.1f}% inner circle (class 1)" for y in (y_train, y_test))
    assert out.splitlines()[:2] == [f"train 500 points, {train}", f"test  500 points, {test}"]
    from gradient_lab.figures import training as training_figures

    figure = tmp_path / "figures" / "circles.png"
    assert out.splitlines()[2] == f"wrote {figure}"
    assert_png_shows(figure, tmp_path, training_figures.save_circles, x_train, y_train, x_test, y_test)
