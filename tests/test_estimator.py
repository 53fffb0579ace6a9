"""MeanShift behaves as a scikit-learn estimator, like sklearn's MeanShift."""

import pickle
import warnings

import numpy as np
import pytest
import sklearn.cluster as skc
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone, is_clusterer
from sklearn.datasets import make_blobs
from sklearn.metrics import silhouette_score
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks

import meanshift
from meanshift import MeanShift

X, _ = make_blobs(
    n_samples=90,
    n_features=2,
    centers=[[0, 0], [5, 5], [-5, 5]],
    cluster_std=0.7,
    random_state=0,
)
BANDWIDTH = 1.6

IMPLS = [
    pytest.param(meanshift, id="meanshift"),
    pytest.param(skc, id="sklearn"),
]


# ---------------------------------------------------------------------------
# scikit-learn's common estimator checks
# ---------------------------------------------------------------------------


def _expected_failures(estimator):
    if estimator.bin_seeding:
        # 15 points in 30 dimensions, each row repeated 0-4 times: no data
        # point lies within bandwidth of a grid point, and the fit on the
        # repeated rows raises "No point was within bandwidth", as
        # scikit-learn's own MeanShift(bin_seeding=True) does on them
        # (checked in test_bin_seeding_equivalence_check_premise)
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "the repeated-rows fit raises in scikit-learn too"
            )
        }
    return {}


@parametrize_with_checks(
    [MeanShift(), MeanShift(bin_seeding=True)],
    expected_failed_checks=_expected_failures,
    xfail_strict=True,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# ---------------------------------------------------------------------------
# Parameters, clone, repr, tags
# ---------------------------------------------------------------------------


def test_get_params_match_sklearn():
    # every scikit-learn parameter with its default, plus our additions
    ours = MeanShift().get_params()
    ref = skc.MeanShift().get_params()
    assert ours.pop("verbose") is False
    assert ours.pop("kernel") == "flat"
    assert ours.pop("label_by") == "nearest"
    assert ours.pop("algorithm") == "exact"
    assert ours.pop("grid_resolution") == 3.0
    assert ours == ref
    assert ours == {
        "bandwidth": None,
        "bin_seeding": False,
        "cluster_all": True,
        "max_iter": 300,
        "min_bin_freq": 1,
        "n_jobs": None,
        "seeds": None,
    }


def test_constructor_is_keyword_only():
    with pytest.raises(TypeError):
        MeanShift(1.0)


def test_set_params():
    model = MeanShift()
    assert model.set_params(bandwidth=2.5, max_iter=10, cluster_all=False) is model
    assert model.bandwidth == 2.5
    assert model.max_iter == 10
    assert model.cluster_all is False
    with pytest.raises(ValueError, match="Invalid parameter"):
        model.set_params(not_a_param=1)


def test_clone():
    seeds = X[:5].copy()
    model = MeanShift(bandwidth=BANDWIDTH, seeds=seeds, max_iter=50).fit(X)
    cloned = clone(model)
    assert cloned is not model
    assert cloned.get_params()["bandwidth"] == BANDWIDTH
    assert cloned.max_iter == 50
    # clone deep-copies non-estimator parameters
    assert cloned.seeds is not seeds
    assert_array_equal(cloned.seeds, seeds)
    assert not hasattr(cloned, "cluster_centers_")
    assert not hasattr(cloned, "labels_")
    assert_array_equal(cloned.fit(X).labels_, model.labels_)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"bandwidth": 2},
        {"bandwidth": 2.5, "bin_seeding": True},
        {"cluster_all": False, "max_iter": 10, "min_bin_freq": 3},
        {"n_jobs": -1},
    ],
)
def test_repr_matches_sklearn(params):
    assert repr(MeanShift(**params)) == repr(skc.MeanShift(**params))


def test_repr_docstring_example():
    assert repr(MeanShift(bandwidth=2)) == "MeanShift(bandwidth=2)"
    assert repr(MeanShift()) == "MeanShift()"


def test_tags_match_sklearn():
    assert is_clusterer(MeanShift())
    assert get_tags(MeanShift()) == get_tags(skc.MeanShift())


# ---------------------------------------------------------------------------
# Fitted attributes, fit_predict, predict
# ---------------------------------------------------------------------------


def test_fitted_attributes():
    model = MeanShift(bandwidth=BANDWIDTH)
    assert model.fit(X) is model
    assert model.n_features_in_ == 2
    assert not hasattr(model, "feature_names_in_")
    assert model.cluster_centers_.shape == (3, 2)
    assert model.labels_.shape == (len(X),)
    assert isinstance(model.n_iter_, int)
    assert 0 < model.n_iter_ <= model.max_iter


@pytest.mark.parametrize("cluster_all", [True, False])
def test_fit_predict_equals_labels(global_dtype, cluster_all):
    data = X.astype(global_dtype)
    model = MeanShift(bandwidth=1.0, cluster_all=cluster_all)
    labels = model.fit_predict(data)
    assert_array_equal(labels, model.labels_)
    assert_array_equal(labels, MeanShift(bandwidth=1.0, cluster_all=cluster_all)
                       .fit(data).labels_)


def test_predict_training_data_equals_labels(global_dtype):
    data = X.astype(global_dtype)
    model = MeanShift(bandwidth=BANDWIDTH).fit(data)
    assert_array_equal(model.predict(data), model.labels_)
    pred = model.predict(data[:7])
    assert pred.dtype == model.labels_.dtype
    assert_array_equal(pred, model.labels_[:7])


def test_predict_is_nearest_center():
    model = MeanShift(bandwidth=BANDWIDTH).fit(X)
    X_new = np.random.RandomState(0).uniform(-8, 8, size=(300, 2))
    dist = np.linalg.norm(X_new[:, None, :] - model.cluster_centers_[None], axis=2)
    assert_array_equal(model.predict(X_new), dist.argmin(axis=1))


def test_predict_ignores_cluster_all():
    # predict labels every point, even with cluster_all=False
    model = MeanShift(bandwidth=BANDWIDTH, cluster_all=False).fit(X)
    far = np.array([[100.0, 100.0]])
    assert model.predict(far)[0] >= 0
    ref = skc.MeanShift(bandwidth=BANDWIDTH, cluster_all=False).fit(X)
    assert_array_equal(model.predict(far), ref.predict(far))


# ---------------------------------------------------------------------------
# Pickle
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_pickle_round_trip(protocol, global_dtype):
    data = X.astype(global_dtype)
    model = MeanShift(bandwidth=BANDWIDTH, bin_seeding=True).fit(data)
    restored = pickle.loads(pickle.dumps(model, protocol=protocol))
    assert type(restored) is MeanShift
    assert restored.get_params() == model.get_params()
    assert_array_equal(restored.cluster_centers_, model.cluster_centers_)
    assert restored.cluster_centers_.dtype == model.cluster_centers_.dtype
    assert_array_equal(restored.labels_, model.labels_)
    assert restored.n_iter_ == model.n_iter_
    X_new = np.random.RandomState(1).uniform(-8, 8, size=(50, 2))
    assert_array_equal(restored.predict(X_new), model.predict(X_new))
    assert_array_equal(restored.fit(data).labels_, model.labels_)


def test_pickle_unfitted():
    restored = pickle.loads(pickle.dumps(MeanShift(bandwidth=3.0)))
    assert restored.bandwidth == 3.0
    assert not hasattr(restored, "cluster_centers_")


# ---------------------------------------------------------------------------
# Pipelines and model selection
# ---------------------------------------------------------------------------


def test_pipeline():
    pipe = Pipeline([("scale", StandardScaler()), ("ms", MeanShift(bandwidth=0.5))])
    labels = pipe.fit_predict(X)
    scaled = StandardScaler().fit_transform(X)
    direct = MeanShift(bandwidth=0.5).fit(scaled)
    assert_array_equal(labels, direct.labels_)
    assert_array_equal(pipe.predict(X), direct.labels_)
    assert_allclose(pipe.named_steps["ms"].cluster_centers_, direct.cluster_centers_)
    # and the same as with scikit-learn's MeanShift in the pipeline
    ref = make_pipeline(StandardScaler(), skc.MeanShift(bandwidth=0.5)).fit(X)
    assert_array_equal(pipe.predict(X), ref.predict(X))


def test_pipeline_set_params_and_clone():
    pipe = make_pipeline(StandardScaler(), MeanShift())
    pipe.set_params(meanshift__bandwidth=0.4, meanshift__bin_seeding=True)
    cloned = clone(pipe)
    assert cloned.named_steps["meanshift"].bandwidth == 0.4
    assert cloned.named_steps["meanshift"].bin_seeding is True
    assert_array_equal(cloned.fit_predict(X), pipe.fit_predict(X))


def _silhouette_scorer(estimator, X_eval, y=None):
    labels = estimator.predict(X_eval)
    if len(np.unique(labels)) < 2:
        return -1.0
    return silhouette_score(X_eval, labels)


@pytest.mark.slow
def test_grid_search_custom_scorer():
    grid = {"bandwidth": [0.3, 1.0, 1.6, 4.0, 9.0]}
    cv = KFold(n_splits=3, shuffle=True, random_state=0)
    ours = GridSearchCV(MeanShift(), grid, scoring=_silhouette_scorer, cv=cv).fit(X)
    ref = GridSearchCV(skc.MeanShift(), grid, scoring=_silhouette_scorer, cv=cv).fit(X)
    assert ours.best_params_ == ref.best_params_
    assert ours.best_params_["bandwidth"] in (1.0, 1.6)
    assert_allclose(
        ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"]
    )
    assert_array_equal(ours.best_estimator_.labels_, ref.best_estimator_.labels_)
    assert_array_equal(ours.predict(X), ref.predict(X))


def test_grid_search_fit_only():
    # no scorer: GridSearchCV falls back to the estimator's score, which a
    # clusterer does not have; with refit=False and a callable that only
    # records the fit, the fits must still all happen
    fitted = []

    def record(estimator, X_eval, y=None):
        fitted.append(estimator.bandwidth)
        assert hasattr(estimator, "cluster_centers_")
        return float(len(estimator.cluster_centers_))

    grid = {"bandwidth": [0.5, 2.0], "bin_seeding": [False, True]}
    search = GridSearchCV(MeanShift(), grid, scoring=record, cv=2, refit=False)
    search.fit(X)
    assert sorted(set(fitted)) == [0.5, 2.0]
    assert len(fitted) == 2 * len(search.cv_results_["params"])
    assert np.all(search.cv_results_["mean_test_score"] >= 1)


# ---------------------------------------------------------------------------
# pandas
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("impl", IMPLS)
def test_dataframe_input(impl):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=["a", "b"])
    model = impl.MeanShift(bandwidth=BANDWIDTH).fit(df)
    assert_array_equal(model.feature_names_in_, np.array(["a", "b"], dtype=object))
    assert model.feature_names_in_.dtype == object
    assert model.n_features_in_ == 2
    assert_array_equal(model.labels_, impl.MeanShift(bandwidth=BANDWIDTH).fit(X).labels_)
    assert_array_equal(model.predict(df), model.labels_)
    # predicting on a bare array after fitting on a DataFrame warns
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        model.predict(X)
    # mismatching column names are an error
    with pytest.raises(ValueError, match="feature names"):
        model.predict(pd.DataFrame(X, columns=["b", "a"]))
    # refitting on an array forgets the feature names
    model.fit(X)
    assert not hasattr(model, "feature_names_in_")


def test_dataframe_input_matches_sklearn():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X.astype(np.float32), columns=["x0", "x1"])
    ours = MeanShift(bandwidth=BANDWIDTH, bin_seeding=True).fit(df)
    ref = skc.MeanShift(bandwidth=BANDWIDTH, bin_seeding=True).fit(df)
    assert ours.cluster_centers_.dtype == ref.cluster_centers_.dtype == np.float32
    assert_array_equal(ours.labels_, ref.labels_)
    assert_allclose(ours.cluster_centers_, ref.cluster_centers_, atol=1e-3 * BANDWIDTH)
    assert_array_equal(ours.feature_names_in_, ref.feature_names_in_)


@pytest.mark.parametrize("impl", IMPLS)
def test_dataframe_non_string_columns(impl):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X)  # integer column names: no feature_names_in_
    model = impl.MeanShift(bandwidth=BANDWIDTH).fit(df)
    assert not hasattr(model, "feature_names_in_")
    assert model.n_features_in_ == 2


@pytest.mark.parametrize("impl", IMPLS)
def test_n_features_in_checked_on_refit(impl):
    model = impl.MeanShift(bandwidth=BANDWIDTH).fit(X)
    assert model.n_features_in_ == 2
    X3 = np.hstack([X, X[:, :1]])
    model.fit(X3)
    assert model.n_features_in_ == 3
    with pytest.raises(ValueError, match="expecting 3 features"):
        model.predict(X)


def test_estimate_bandwidth_returns_numpy_float64():
    ours = meanshift.estimate_bandwidth(X)
    ref = skc.estimate_bandwidth(X)
    assert type(ours) is type(ref) is np.float64
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ours == pytest.approx(ref, rel=1e-12)


def test_bin_seeding_equivalence_check_premise():
    # the data of scikit-learn's check_sample_weight_equivalence: the fit on
    # the repeated rows fails in scikit-learn and here alike, and the
    # weighted fit fails the same way (same bandwidth, same grid seeds)
    rng = np.random.RandomState(42)
    X = rng.rand(15, 30)
    rng.randint(0, 3, size=15)
    sw = rng.randint(0, 5, size=15)
    X_repeated = X.repeat(sw, axis=0)
    for model in (skc.MeanShift(bin_seeding=True), MeanShift(bin_seeding=True)):
        with pytest.raises(ValueError, match="No point was within bandwidth"):
            model.fit(X_repeated)
    with pytest.raises(ValueError, match="No point was within bandwidth=2.102188"):
        MeanShift(bin_seeding=True).fit(X, sample_weight=sw)


@pytest.mark.parametrize("bandwidth", [None, 1.5])
def test_bandwidth_attribute_is_the_bandwidth_used(bandwidth):
    X, _ = make_blobs(300, 2, centers=3, random_state=0)
    model = MeanShift(bandwidth=bandwidth).fit(X)
    expected = meanshift.estimate_bandwidth(X) if bandwidth is None else bandwidth
    assert model.bandwidth_ == expected
    # huge coordinates are fitted on a scaled copy: in the caller's units, a
    # given bandwidth as given, an estimate scaled with the data
    huge = MeanShift(bandwidth=bandwidth).fit(X * 2.0**600).bandwidth_
    assert huge == (expected * 2.0**600 if bandwidth is None else bandwidth)
