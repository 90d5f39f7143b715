import numpy as np

from training.evaluate import memorization_rate, nearest_distance, pixel_art_stats, reconstruction_error


def test_nearest_distance_counts_only_pixels_opaque_in_either():
    a = np.zeros((2, 4, 4, 4), np.uint8)
    a[0, 0, 0] = [10, 10, 10, 255]
    a[1, 1, 1] = [200, 0, 0, 255]
    b = a.copy()
    b[0, 0, 0] = [12, 10, 10, 255]
    assert nearest_distance(a, b).tolist() == [0.5, 0.0]
    assert nearest_distance(a[:1], a[1:]).tolist() == [(30 + 255 + 200 + 255) / 8]
    assert memorization_rate(a, b) == 1.0 and memorization_rate(a[:1], a[1:]) == 0.0


def test_stats_and_reconstruction_error():
    s = np.zeros((1, 2, 2, 4), np.uint8)
    s[0, 0, :] = [255, 0, 0, 255]
    s[0, 1, 0] = [0, 0, 255, 255]
    st = pixel_art_stats(s)
    assert st["colors_per_sprite"] == 2 and st["opaque_coverage"] == 0.75
    assert abs(st["isolated_pixel_rate"] - 1 / 3) < 1e-12
    r = s.copy()
    r[0, 0, 0, 0] = 249
    r[0, 1, 1] = [1, 1, 1, 255]
    err = reconstruction_error(s, r)
    assert err == {"rgb_mae_255": 2 / 3, "alpha_mismatch": 0.25}
