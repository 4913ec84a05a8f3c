"""The posterior stage: its flow, the sky chart and credible regions, sampling through the
pipeline, the command line and the Reconstructor, and how the shipped flows cover."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from graphreco import Reconstructor
from graphreco.cli import main
from graphreco.evaluate.posteriors import kde_log_densities, posterior_figures
from graphreco.io import read_events
from graphreco.models.flow import ConditionalFlow
from graphreco.pipeline import Pipeline
from graphreco.sky import cone_area, credible_area, from_chart, hpd_areas, hpd_levels, log_area_ratio, to_chart
from graphreco.statistics import opening_angle, unit_vectors

pytest.importorskip("zuko")


@pytest.fixture(scope="module")
def skewed_flow() -> ConditionalFlow:
    """A flow with random parameters: far from the standard normal."""
    torch.manual_seed(0)
    flow = ConditionalFlow(3, 4)
    with torch.no_grad():
        flow.hyper[-1].weight.normal_(0, 0.3)
        flow.hyper[-1].bias.normal_(0, 0.3)
    return flow


def test_an_untrained_flow_is_the_standard_normal():
    flow = ConditionalFlow(3, 4)
    x, context = torch.randn(50, 3), torch.randn(50, 4)
    with torch.no_grad():
        assert torch.allclose(flow.log_prob(x, context), torch.distributions.Normal(0, 1).log_prob(x).sum(-1),
                              atol=1e-5)


def test_the_direction_marginal_is_normalised(skewed_flow):
    grid = torch.linspace(-15, 15, 301)
    points = torch.stack(torch.meshgrid(grid, grid, indexing="ij"), dim=-1).reshape(-1, 1, 2)
    with torch.no_grad():
        density = skewed_flow.log_prob(points, torch.ones(1, 4)).exp()
    assert float(density.sum() * (grid[1] - grid[0]) ** 2) == pytest.approx(1.0, abs=0.01)


def test_fast_sampling_inverts_the_flow_as_zuko_does(skewed_flow):
    context = torch.randn(200, 4)
    with torch.inference_mode():
        torch.manual_seed(3)
        fast = skewed_flow.sample(context, 64)
        torch.manual_seed(3)
        normal = torch.randn(200, 3, 64).permute(2, 0, 1)
        reference = skewed_flow.distribution(skewed_flow.parameters_of(context)).transform.inv(normal)
    assert torch.allclose(fast, reference, atol=1e-4)


def test_the_direction_marginal_matches_the_joint_samples(skewed_flow):
    """The first two coordinates of joint samples fall where the exact marginal density
    puts its mass: the probability of x0 > 0.5 both ways."""
    context = torch.randn(1, 4)
    grid = torch.linspace(-15, 15, 301)
    points = torch.stack(torch.meshgrid(grid, grid, indexing="ij"), dim=-1).reshape(-1, 1, 2)
    with torch.inference_mode():
        samples = skewed_flow.sample(context, 40000)[:, 0, :2]
        density = skewed_flow.log_prob(points, context)[:, 0].exp()
    from_density = float((density * (points[:, 0, 0] > 0.5)).sum() * (grid[1] - grid[0]) ** 2)
    assert float((samples[:, 0] > 0.5).float().mean()) == pytest.approx(from_density, abs=0.01)


def test_chart_round_trip_and_distances():
    rng = np.random.default_rng(1)
    zenith, azimuth = rng.uniform(0.05, 3.0, 100), rng.uniform(0, 2 * np.pi, 100)
    offsets = rng.normal(0, 0.3, (7, 100, 2))
    back_zenith, back_azimuth = from_chart(zenith, azimuth, offsets)
    again = to_chart(zenith, azimuth, unit_vectors(back_zenith, back_azimuth))
    assert np.allclose(again, offsets, atol=1e-9)
    distance = opening_angle(unit_vectors(zenith, azimuth), unit_vectors(back_zenith[0], back_azimuth[0]))
    assert np.allclose(distance, np.linalg.norm(offsets[0], axis=-1), atol=1e-9)
    # bearing 0 points to larger zenith
    assert np.all(from_chart(zenith, azimuth, np.tile([0.01, 0.0], (100, 1)))[0] > zenith)
    assert log_area_ratio(np.array([0.0, 0.0])) == 0.0
    assert log_area_ratio(np.array([np.pi / 2, 0.0])) == pytest.approx(math.log(np.pi / 2))


def test_hpd_levels_and_areas_of_a_gaussian():
    rng = np.random.default_rng(2)
    sigma, n, events = 0.01, 4000, 300
    samples = rng.normal(0, sigma, (n, events, 2))
    truth = rng.normal(0, sigma, (events, 2))

    def log_density(points):
        return -0.5 * np.sum(points ** 2, axis=-1) / sigma ** 2 - np.log(2 * np.pi * sigma ** 2)

    levels = hpd_levels(log_density(samples), log_density(truth))
    assert np.mean(levels <= 0.68) == pytest.approx(0.68, abs=0.06)
    area = hpd_areas(log_density(samples), (0.9,))[0]
    assert np.median(area) == pytest.approx(-2 * math.log(0.1) * math.pi * sigma ** 2, rel=0.05)


def test_kernel_estimate_gives_calibrated_levels_from_samples_alone():
    rng = np.random.default_rng(3)
    events, n = 400, 256
    zenith, azimuth = np.full(events, 1.0), np.full(events, 2.0)
    widths = rng.uniform(0.01, 0.05, events)[:, None]
    sample_zenith, sample_azimuth = from_chart(zenith, azimuth, rng.normal(0, 1, (n, events, 2)) * widths)
    true_zenith, true_azimuth = from_chart(zenith, azimuth, rng.normal(0, 1, (events, 2)) * widths)
    at_samples, at_truth = kde_log_densities(zenith, azimuth, sample_zenith.T, sample_azimuth.T, true_zenith,
                                             true_azimuth)
    levels = hpd_levels(at_samples.T, at_truth)
    for level in (0.5, 0.68, 0.9):
        assert np.mean(levels <= level) == pytest.approx(level, abs=0.06)


def test_posterior_figures_compare_with_the_cone_holding_90_percent():
    cone = np.full(1000, 0.02)
    error = np.random.default_rng(4).rayleigh(0.01, 1000)
    figures = posterior_figures(np.linspace(0, 1, 1000), None, cone_area(cone), error, cone)
    assert figures["coverage_68"] == pytest.approx(0.68, abs=0.002)
    scale = np.quantile(error / cone, 0.9)
    assert figures["area_ratio_90"] == pytest.approx(float(cone_area(cone[0]) / cone_area(scale * cone[0])), rel=1e-3)


def test_healpix_credible_area_of_a_narrow_posterior():
    healpy = pytest.importorskip("healpy")
    from graphreco.sky import healpix_histogram, healpix_map

    sigma = math.radians(3)
    centre = unit_vectors(np.array([0.7]), np.array([1.0]))[0]

    def log_density(zenith, azimuth):
        angle = np.arccos(np.clip(unit_vectors(zenith, azimuth) @ centre, -1, 1))
        return -0.5 * angle ** 2 / sigma ** 2

    probability = healpix_map(log_density, nside=128)
    assert probability.size == healpy.nside2npix(128) and probability.sum() == pytest.approx(1.0)
    expected = -2 * math.log(0.1) * math.pi * sigma ** 2
    assert credible_area(probability, 0.9) == pytest.approx(expected, rel=0.1)
    rng = np.random.default_rng(5)
    zenith, azimuth = from_chart(np.array([0.7]), np.array([1.0]), rng.normal(0, sigma, (200000, 1, 2)))
    counts = healpix_histogram(zenith[:, 0], azimuth[:, 0], nside=128)
    assert counts.sum() == pytest.approx(1.0) and credible_area(counts, 0.9) == pytest.approx(expected, rel=0.15)


@pytest.fixture(scope="module")
def baikal_gvd() -> Pipeline:
    return Pipeline.shipped("baikal-gvd")


def test_without_the_flag_the_posterior_costs_nothing(baikal_gvd, simulated_file):
    batch = next(iter(read_events(simulated_file("baikal-gvd", 200, 71), batch_size=200)))
    assert baikal_gvd.stages["posterior"].on_request
    columns = baikal_gvd.reconstruct(batch)[1]
    assert not any(name.startswith("reco_posterior") for name in columns)
    assert "reco_posterior_zenith" not in baikal_gvd.output_schema().names


def test_samples_are_reproducible_and_shaped_as_the_format_says(baikal_gvd, simulated_file):
    batch = next(iter(read_events(simulated_file("baikal-gvd", 200, 71), batch_size=200)))
    sampling = baikal_gvd.with_posterior(256)
    first, second = sampling.reconstruct(batch)[1], sampling.reconstruct(batch)[1]
    for name in ("reco_posterior_zenith", "reco_posterior_azimuth", "reco_posterior_log10_energy"):
        assert first[name].shape == (200, 256) and first[name].dtype == np.float32
        assert np.array_equal(first[name], second[name], equal_nan=True)
    estimated = np.isfinite(first["reco_zenith"])
    assert np.all(np.isfinite(first["reco_posterior_zenith"][estimated]))
    assert np.all(np.isnan(first["reco_posterior_zenith"][~estimated]))
    assert sampling.fingerprint() != baikal_gvd.fingerprint()
    with pytest.raises(ValueError, match="at least 256"):
        baikal_gvd.with_posterior(100)
    with pytest.raises(ValueError, match="no posterior stage"):
        Pipeline.shipped("lhc-pf").with_posterior(256)


def test_reconstruct_posterior_writes_lists_and_evaluate_scores_them(simulated_file, tmp_path, capsys):
    source = simulated_file("baikal-gvd", 300, 72, mix={"numu_cc": 3.0, "nue_cc": 1.0})
    output = tmp_path / "reco.parquet"
    assert main(["reconstruct", "--detector", "baikal-gvd", str(source), "-o", str(output), "--posterior", "256",
                 "--workers", "1", "-q"]) == 0
    table = pq.read_table(output)
    assert table.schema.field("reco_posterior_zenith").type.value_type == pa.float32()
    assert {len(row) for row in table.column("reco_posterior_azimuth").to_pylist()} == {256}
    assert main(["evaluate", str(source), str(output), "--json", str(tmp_path / "e.json"), "-q"]) == 0
    posterior = json.loads((tmp_path / "e.json").read_text())["posterior"]["gnn"]
    assert posterior["numu_cc_10_signal_hits"]["events"] > 20
    assert 0.3 < posterior["numu_cc_10_signal_hits"]["coverage_68"] <= 1.0
    assert main(["reconstruct", "--detector", "baikal-gvd", str(source), "-o", str(tmp_path / "x.parquet"),
                 "--posterior", "16", "-q"]) == 2
    assert "at least 256" in capsys.readouterr().err


def test_reconstructor_gives_samples_and_the_density(simulated_file):
    batch = next(iter(read_events(simulated_file("ta-sd", 50, 73), batch_size=50)))
    event = int(np.argmax(np.diff(batch.offsets)))
    hits = {name: values[batch.offsets[event]:batch.offsets[event + 1]] for name, values in batch.hits.items()
            if not name.startswith("true_")}
    posterior = Reconstructor("ta-sd").posterior(hits, 512)
    assert posterior.zenith.shape == (512,) and np.all(np.isfinite(posterior.log10_energy))
    near = posterior.log_density(np.median(posterior.zenith), np.median(posterior.azimuth))
    far = posterior.log_density(np.median(posterior.zenith) + 0.5, np.median(posterior.azimuth))
    assert near > far
    areas = posterior.credible_areas()
    assert np.all(np.diff(areas) > 0) and areas[-1] < 4 * np.pi


@pytest.mark.parametrize("detector, events, population", [("baikal-gvd", 3000, "numu_cc_10_signal_hits"),
                                                          ("ta-sd", 2000, "standard_cuts")])
def test_shipped_posteriors_cover_on_held_out_events(detector, events, population, simulated_file, tmp_path):
    """The 68 % HPD region holds the truth of 68 +- 6 % of held-out events (the statistics
    of a sample this size; the docs quote the full measurement)."""
    options = {"mix": {"numu_cc": 1.0}} if detector == "baikal-gvd" else {}
    source = simulated_file(detector, events, 74, **options)
    output = tmp_path / "reco.parquet"
    assert main(["reconstruct", "--detector", detector, str(source), "-o", str(output), "--posterior", "256",
                 "-q"]) == 0
    assert main(["evaluate", str(source), str(output), "--json", str(tmp_path / "e.json"), "-q"]) == 0
    figures = json.loads((tmp_path / "e.json").read_text())["posterior"]["gnn"][population]
    assert figures["events"] > 300
    assert figures["coverage_68"] == pytest.approx(0.68, abs=0.06)
    assert figures["coverage_90"] == pytest.approx(0.9, abs=0.05)
