"""The headline table of a report: values rounded to the precision of their errors, read
from the evaluation dict where each detector's headline says."""

import pytest

from graphreco.detectors.base import Headline, HeadlineFigure
from graphreco.evaluate.headline import MISSING, headline_table, rounded


@pytest.mark.parametrize(("value", "error", "text"), [
    (0.98712, 0.0031, "0.987 ± 0.003"),  # leading digits 31: one significant digit
    (0.98712, 0.0024, "0.9871 ± 0.0024"),  # 24: two
    (0.9871, 0.0096, "0.987 ± 0.010"),  # rounds up to the next power of ten: 10, two digits
    (1234.5, 230.0, "1230 ± 230"),
    (-0.0001, 0.003, "0.000 ± 0.003"),  # no "-0.000"
    (12.049, None, "12.0"),  # no error: three significant digits
    (0.0535, 0.0, "0.0535"),
    (215, None, "215"),  # a count
])
def test_a_value_is_rounded_to_the_precision_of_its_error(value, error, text):
    assert rounded(value, error) == text


HEADLINE = Headline(methods=(("gnn", "pipeline"), ("baseline", "fit")), figures=(
    HeadlineFigure("angle", "deg", "direction/{method}/median_deg"),
    HeadlineFigure("passing", "%", "events/{method}/at/efficiency=0.7/passing_fraction", scale=100.0),
))


def test_the_table_reads_each_method_where_its_figure_says():
    figures = {"direction": {"gnn": {"median_deg": 2.947, "median_deg_error": 0.61},
                             "baseline": {"median_deg": 4.318}},
               "events": {"gnn": {"at": [{"efficiency": 0.5, "passing_fraction": 0.5},
                                         {"efficiency": 0.7, "passing_fraction_upper_limit_90cl": 0.00869}]},
                          "baseline": {"at": [{"efficiency": 0.7, "passing_fraction": 0.067925,
                                               "passing_fraction_error": 0.015}]}}}
    table = headline_table(figures, HEADLINE)
    assert table.header == ("figure", "unit", "pipeline", "fit")
    assert table.rows == (("angle", "deg", "2.9 ± 0.6", "4.32"), ("passing", "%", "< 0.87", "6.8 ± 1.5"))
    assert headline_table({}, HEADLINE).rows[0][2:] == (MISSING, MISSING)

