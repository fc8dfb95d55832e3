import numpy as np
import pytest

from tunedepth._checks import check_int, check_shape, is_number


@pytest.mark.parametrize("value", [1, 5, np.int64(8)])
def test_check_int_accepts_ints_in_range_and_returns_plain_ints(value):
    out = check_int(value, "k", "f", minimum=1, maximum=8)
    assert out == value and type(out) is int


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "an int in [1, 8]; got 0"), (9, "an int in [1, 8]; got 9"), (True, "got True"), (2.0, "got 2.0"),
     ("3", "got '3'"), (None, "got None")],
)
def test_check_int_names_parameter_function_and_value(value, expected):
    with pytest.raises(ValueError, match=r"^The 'k' parameter of f must be ") as info:
        check_int(value, "k", "f", minimum=1, maximum=8)
    assert str(info.value).endswith(expected + ".")


def test_check_int_without_maximum_says_the_minimum_and_example():
    with pytest.raises(ValueError, match=r"must be an int >= 1, for example 2000; got -3\.$"):
        check_int(-3, "n_boot", "f", minimum=1, example=", for example 2000")


@pytest.mark.parametrize("shape", [(4,), (0, 3), (2, 3, 1), (2.0, 3), (True, 2), "ab", None])
def test_check_shape_refuses_anything_but_two_positive_ints(shape):
    with pytest.raises(ValueError, match=r"'shape' parameter of g must be \(height, width\), two ints >= 1; got "):
        check_shape(shape, "shape", "g")


def test_check_shape_returns_a_tuple_of_ints():
    assert check_shape([np.int32(4), 6], "shape", "g") == (4, 6)


@pytest.mark.parametrize(("value", "expected"), [(1, True), (0.5, True), (np.float32(2), True), (np.int16(3), True),
                                                 (True, False), (float("nan"), False), (float("inf"), False),
                                                 ("1", False), (None, False)])
def test_is_number_is_finite_non_bool_numbers_only(value, expected):
    assert is_number(value) is expected
