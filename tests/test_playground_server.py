"""The playground's server, through Starlette's TestClient: routes, sessions, limits, CSV, export."""

import re
import shlex
import tempfile

import numpy as np
import pytest

pytest.importorskip("starlette")
try:
    from starlette.testclient import TestClient
except RuntimeError as exc:  # it needs httpx2 (or the older httpx)
    pytest.skip(str(exc), allow_module_level=True)

import ninestep as ns  # noqa: E402
from ninestep.playground.server import create_app  # noqa: E402
from ninestep.playground.settings import Limits  # noqa: E402

SMALL = {"data": "moons", "n": "200", "layers": "6", "opt": "adam", "lr": "0.05", "batch": "32", "seed": "3"}


@pytest.fixture
def client():
    with TestClient(create_app()) as c:
        yield c


def new(client, **settings):
    r = client.post("/api/sessions", json=settings)
    assert r.status_code == 200, r.text
    return r.json()


def tick(client, sid, action="step", since=0):
    r = client.post(f"/api/sessions/{sid}/tick", json={"action": action, "since": since})
    assert r.status_code == 200, r.text
    return r.json()


def load(client, sid):
    """The session's model file, read back with ns.load_model."""
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/model.npz"
        with open(path, "wb") as f:
            f.write(client.get(f"/api/sessions/{sid}/model.npz").content)
        return ns.load_model(path)


def params(client, sid):
    return load(client, sid).net.params


def test_page_and_assets_are_served_with_no_address_outside_the_machine(client):
    page = client.get("/")
    assert page.status_code == 200 and "<canvas" in page.text
    for label in ("Dataset", "Play", "Pause", "Step", "Reset", "Learning rate", "Batch size", "Activation", "Seed",
                  "Epoch", "Train loss", "Test loss", "Test accuracy"):
        assert label in page.text
    for asset in ("app.js", "draw.js", "style.css"):
        r = client.get(f"/static/{asset}")
        assert r.status_code == 200
        assert not re.search(r"https?://", r.text), f"{asset} fetches from the internet"
    assert not re.search(r"(src|href)=\"https?://", page.text)


def test_a_new_session_sends_the_data_the_nine_steps_and_a_first_frame(client):
    r = new(client, **SMALL)
    ds, frame = r["dataset"], r["frame"]
    assert ds["task"] == "classification" and ds["layer_sizes"] == [2, 6, 2]
    assert ds["n_train"] == 140 and ds["n_test"] == 60
    assert [s["step"] for s in ds["steps"]] == list(range(1, 10))
    shapes = " ".join(" ".join(s["shapes"]) for s in ds["steps"])
    for text in ("X (200, 2)", "W1 (2, 6)", "W2 (6, 2)", "dZ1 (32, 6)", "X_test (60, 2)"):
        assert text in shapes
    assert frame["metrics"]["epoch"] == 0 and frame["output"]["kind"] == "binary"
    assert len(frame["units"]) == 1 and len(frame["units"][0]) == 6
    assert ds["settings"]["data"] == "moons" and ds["settings"]["layers"] == "6"


def test_training_in_chunks_gives_the_same_bits_as_step_by_step(client):
    a = new(client, **SMALL)["id"]
    b = new(client, **SMALL, speed="5")["id"]
    for _ in range(10):
        fa = tick(client, a, "step")
    fb = tick(client, b, "play")
    fb = tick(client, b, "play")
    assert fa["metrics"] == fb["metrics"] and fa["metrics"]["epoch"] == 10
    assert np.array_equal(params(client, a), params(client, b))
    assert fa["history"]["train"] == fb["history"]["train"]  # since=0: the whole curve


def test_reset_gives_the_same_initial_weights_and_a_new_seed_does_not(client):
    sid = new(client, **SMALL)["id"]
    start = params(client, sid)
    tick(client, sid, "play")
    assert not np.array_equal(params(client, sid), start)
    r = client.post(f"/api/sessions/{sid}/reset", json={})
    assert r.json()["frame"]["metrics"]["epoch"] == 0
    assert np.array_equal(params(client, sid), start)
    client.post(f"/api/sessions/{sid}/settings", json={"seed": "4"})
    assert not np.array_equal(params(client, sid), start)


def test_a_frame_trains_for_half_a_second_at_most_after_its_first_epoch():
    from ninestep.playground.session import Session
    from ninestep.playground.settings import parse_settings
    limits = Limits()
    session = Session(parse_settings(SMALL, limits), limits)
    assert session.run.train(1000, budget_s=0.0) == 1
    assert session.run.train(5) == 5 and session.run.epoch == 6


def test_a_request_sent_before_a_reset_does_not_train_the_new_run(client):
    r = new(client, **SMALL)
    sid, version = r["id"], r["dataset"]["version"]
    client.post(f"/api/sessions/{sid}/reset", json={})
    stale = client.post(f"/api/sessions/{sid}/tick", json={"action": "play", "since": 0, "version": version}).json()
    assert stale["metrics"]["epoch"] == 0 and stale["version"] == version + 1
    fresh = client.post(f"/api/sessions/{sid}/tick", json={"action": "step", "version": version + 1}).json()
    assert fresh["metrics"]["epoch"] == 1


def test_the_history_is_sent_once(client):
    sid = new(client, **SMALL, speed="3")["id"]
    f = tick(client, sid, "play", since=0)
    assert f["history"]["start"] == 0 and len(f["history"]["train"]) == 3
    f = tick(client, sid, "play", since=3)
    assert f["history"]["start"] == 3 and len(f["history"]["test"]) == 3


@pytest.mark.parametrize("change, message", [
    ({"lr": "abc"}, r"Learning rate \(lr\) must be a number"),
    ({"layers": "8,8,8,8,8,8,8,8,8"}, "at most 8 layers"),
    ({"layers": "300"}, r"Units per hidden layer \(layers\) must be from 1 to 256"),
    ({"n": "20000"}, r"Samples \(n\) must be from 10 to 10000"),
    ({"act": "swish"}, r"Activation \(act\) must be one of relu"),
    ({"data": "csv"}, "upload a CSV file first"),
    ({"n": "12", "classes": "6", "data": "spirals", "train": "0.1"}, r"\(1 rows\) holds 1 of the 6 classes; raise Samples"),
])
def test_a_bad_setting_is_refused_with_a_message_and_the_run_stays(client, change, message):
    sid = new(client, **SMALL)["id"]
    tick(client, sid, "step")
    r = client.post(f"/api/sessions/{sid}/settings", json=change)
    assert r.status_code == 400 and re.search(message, r.json()["error"]), r.text
    assert tick(client, sid, "none")["metrics"]["epoch"] == 1  # the old run, untouched


def test_each_preset_sets_what_it_promises(client):
    article = new(client, preset="article")
    s = article["dataset"]["settings"]
    assert article["dataset"]["layer_sizes"] == [2, 4, 4, 3]
    assert (s["bias"], s["opt"], s["lr"], s["act"]) == ("same", "gd", "0.01", "relu")
    well = new(client, preset="well")["dataset"]["settings"]
    common = pytest.importorskip("ninestep.cli._common")  # ninestep train's defaults
    assert tuple(map(int, well["layers"].split(","))) == common.TRAIN_LAYERS
    assert (well["act"], well["init"], well["opt"], float(well["lr"]), int(well["batch"]), float(well["alpha"]),
            well["schedule"]) == ("relu", common.TRAIN_INIT, "adam", common.TRAIN_LR, common.DEFAULT_BATCH,
                                  common.TRAIN_ALPHA, "cosine")
    assert int(well["epochs"]) == common.auto_epochs(700, common.DEFAULT_BATCH)


def test_the_article_preset_shows_the_stall_and_a_dead_unit(client):
    sid = new(client, preset="article", speed="1000", epochs="3000")["id"]
    f = tick(client, sid, "none")
    while not f["finished"]:  # a frame trains for half a second at most
        f = tick(client, sid, "play")
    assert f["metrics"]["epoch"] == 3000
    assert sum(f["dead"]) >= 1, f["dead"]
    curve = f["history"]["train"]
    assert curve[-1] > 0.1 and curve[-1] > 0.8 * curve[-1000]  # stalled far above a fit (the recipe: < 0.01)


def test_every_data_set_and_optimiser_trains(client):
    for data in ("circles", "xor", "gauss", "spirals", "moons", "arithmetic", "sine"):
        for opt in ("gd", "sgd", "momentum", "nesterov", "adam"):
            sid = new(client, data=data, opt=opt, n="60", layers="3", lr="0.01")["id"]
            f = tick(client, sid, "step")
            assert f["metrics"]["epoch"] == 1 and not f["error"], (data, opt, f["error"])
            client.post(f"/api/sessions/{sid}/close")
    regression = new(client, data="arithmetic", n="60")
    assert regression["frame"]["output"]["kind"] == "regression" and "pvt" in regression["frame"]
    assert "test_rmse" in regression["frame"]["metrics"]
    assert new(client, data="sine", n="60")["frame"]["output"]["kind"] == "curve"


def test_no_hidden_layer_is_a_linear_model_and_trains(client):
    r = new(client, **{**SMALL, "layers": ""})
    assert r["dataset"]["layer_sizes"] == [2, 2] and r["frame"]["units"] == []
    assert tick(client, r["id"], "step")["metrics"]["epoch"] == 1


def test_divergence_pauses_with_advice_and_keeps_the_server(client):
    sid = new(client, data="arithmetic", opt="gd", lr="10", layers="32,32", act="relu", n="200", speed="50")["id"]
    f = tick(client, sid, "play")
    assert "smaller learning rate" in f["error"] and f["finished"]
    assert client.get("/api/limits").status_code == 200


CSV = "size,rooms,age,price\n" + "\n".join(f"{40 + i},{1 + i % 5},{i % 30},{100 + 3 * i + (i % 7)}" for i in range(60))


def test_a_csv_upload_trains_on_the_file_and_a_bad_one_keeps_the_previous_data(client):
    sid = new(client, **SMALL)["id"]
    r = client.post(f"/api/sessions/{sid}/csv", content=CSV.encode())
    assert r.status_code == 200, r.text
    ds = r.json()["dataset"]
    assert ds["task"] == "regression" and ds["feature_names"] == ["size", "rooms", "age"]
    assert ds["target_names"] == ["price"] and ds["plot"] == ["size", "rooms"] and ds["layer_sizes"] == [3, 6, 1]
    assert "pvt" in r.json()["frame"]  # three inputs: predicted against true
    r = client.post(f"/api/sessions/{sid}/settings", json={"target": "rooms", "fy": "age"})
    assert r.json()["dataset"]["task"] == "classification" and r.json()["dataset"]["plot"] == ["size", "age"]
    bad = "size,price\n" + "".join(f"{i},{2 * i}\n" for i in range(12)) + "big,7\n"
    r = client.post(f"/api/sessions/{sid}/csv", content=bad.encode())
    assert r.status_code == 400
    for part in ("the file, line 14", "'size'", "'big'"):
        assert part in r.json()["error"]
    assert tempfile.gettempdir() not in r.json()["error"]  # not the server's temporary copy
    r = client.post(f"/api/sessions/{sid}/csv", content=b"a,y\n" + b"".join(b"%d,dog\n" % i for i in range(20)))
    assert r.status_code == 400 and "single class ('dog')" in r.json()["error"]
    after = client.post(f"/api/sessions/{sid}/settings", json={}).json()["dataset"]
    assert after["target_names"] == ["rooms"]  # still the good file


def test_the_command_line_says_what_it_cannot_repeat(client):
    sid = new(client, data="circles", classes="3", noise="0.3", act="relu", init="default", n="100")["id"]
    command = client.get(f"/api/sessions/{sid}/export").json()["command"]
    assert "--init he_normal" in command
    for note in ("# the page's initialisation (He for the ReLU layers, Glorot for the output) has no --init",
                 "# the page used noise 0.3 (ninestep train's circles: 0.1)",
                 "# the page used 3 classes (ninestep train's: 2)"):
        assert note + "; the Python script is the exact run" in command


def test_the_command_line_quotes_a_csv_column_for_the_shell(client):
    sid = new(client, **{**SMALL, "layers": ""})["id"]
    text = "x 1,x2,sale price\n" + "".join(f"{i},{i % 3},{2 * i}\n" for i in range(20))
    assert client.post(f"/api/sessions/{sid}/csv", content=text.encode()).status_code == 200
    argv = shlex.split(client.get(f"/api/sessions/{sid}/export").json()["command"])
    assert argv[argv.index("--target") + 1] == "sale price" and argv[argv.index("--layers") + 1] == ""


def test_csv_limits_have_clear_messages():
    limits = Limits(max_upload_bytes=2000, max_rows=30)
    with TestClient(create_app(limits)) as client:
        sid = new(client, **{**SMALL, "n": "30", "batch": "8"})["id"]
        r = client.post(f"/api/sessions/{sid}/csv", content=CSV.encode())  # ~1 kB but 60 rows
        assert r.status_code == 400 and "60 rows" in r.json()["error"] and "at most 30" in r.json()["error"]
        r = client.post(f"/api/sessions/{sid}/csv", content=b"a,b\n" + b"1,2\n" * 1000)
        assert r.status_code == 413 and "2,000 bytes" in r.json()["error"]
        r = client.post(f"/api/sessions/{sid}/csv", content=b"")
        assert r.status_code == 400 and "empty" in r.json()["error"]


def test_sessions_are_limited_and_end_when_closed_or_idle():
    with TestClient(create_app(Limits(max_sessions=2, idle_timeout_s=3600))) as client:
        a, b = new(client, **SMALL)["id"], new(client, **SMALL)["id"]
        r = client.post("/api/sessions", json=SMALL)
        assert r.status_code == 503 and "2 sessions are open" in r.json()["error"]
        assert client.post(f"/api/sessions/{a}/close").status_code == 204
        r = client.post(f"/api/sessions/{a}/tick", json={"action": "step"})
        assert r.status_code == 404 and "reload the page" in r.json()["error"]
        new(client, **SMALL)  # a's place is free again
        client.app.state.sessions[b].last_seen -= 7200  # idle for two hours
        new(client, **SMALL)  # creating a session ends the idle ones first
        assert b not in client.app.state.sessions


def test_the_exported_model_predicts_as_the_page(client):
    sid = new(client, **SMALL, speed="20")["id"]
    f = tick(client, sid, "play")
    model = load(client, sid)
    assert model.feature_names == ["x1", "x2"] and model.classes == [0, 1] and model.task == "classification"
    rows = client.get(f"/api/sessions/{sid}/data.csv").text.splitlines()
    assert rows[0] == "x1,x2,class,split"
    test = [r.split(",") for r in rows[1:] if r.endswith(",test")]
    X = np.array([[float(r[0]), float(r[1])] for r in test])
    y = np.array([int(r[2]) for r in test])
    accuracy = float(np.mean(model.predict(X) == y))
    assert accuracy == pytest.approx(f["metrics"]["test_accuracy"], abs=1e-4)


@pytest.mark.filterwarnings("ignore::ninestep.ConvergenceWarning")  # the script stops where the page did
@pytest.mark.parametrize("settings", [SMALL, {"preset": "article", "n": "200"},
                                      {"data": "circles", "classes": "4", "opt": "nesterov", "schedule": "cosine",
                                       "epochs": "30", "n": "200", "init": "glorot_normal", "alpha": "0.001"}])
def test_the_python_script_rebuilds_the_page_weights_bit_for_bit(client, settings, tmp_path, monkeypatch):
    sid = new(client, **settings, speed="25")["id"]
    tick(client, sid, "play")
    script = client.get(f"/api/sessions/{sid}/export").json()["python"]
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(script, "playground_export.py", "exec"), scope)
    assert np.array_equal(scope["net"].params, params(client, sid))
    assert (tmp_path / "model.npz").is_file()


@pytest.mark.parametrize("settings", [
    dict(data="spirals", n="300", layers="8", opt="adam", lr="0.02", batch="32", epochs="15"),
    dict(preset="article", n="300", epochs="15"),
    dict(data="moons", n="300", layers="5,3", act="relu", opt="nesterov", lr="0.05", batch="20", epochs="15",
         schedule="cosine", alpha="0.001", init="he_uniform"),
    dict(data="sine", n="300", layers="6", act="tanh", init="default", opt="momentum", epochs="15"),
])
def test_the_command_line_trains_the_same_model(client, tmp_path, settings):
    cli = pytest.importorskip("ninestep.cli")
    sid = new(client, **settings, speed="15")["id"]
    while not tick(client, sid, "play")["finished"]:  # the command trains all the epochs
        pass
    command = client.get(f"/api/sessions/{sid}/export").json()["command"]
    assert command.startswith("ninestep train --data ") and "--n-samples 300 " in command
    argv = shlex.split(command, comments=True)[1:] + ["--out", str(tmp_path), "--quiet"]
    assert cli.main(argv) == 0
    trained = ns.load_model(tmp_path / "model.npz")
    assert np.array_equal(trained.net.params, params(client, sid))


def _command_args(argv):
    import argparse

    from ninestep.cli import playground as command
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", action="store_true")
    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers(dest="command"), common)
    return command, parser.parse_args(["playground", *argv])


def test_the_command_listens_on_this_machine_only_unless_told(monkeypatch, capsys):
    uvicorn = pytest.importorskip("uvicorn")
    from ninestep.cli._common import Out
    listened = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: listened.append((self.config.host, self.config.port)))
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    command, args = _command_args(["--no-browser"])
    assert command.run(args, Out()) == 0
    assert listened == [("127.0.0.1", 8765)] and "warning" not in capsys.readouterr().err
    command, args = _command_args(["--host", "0.0.0.0", "--port", "9000", "--no-browser"])
    assert command.run(args, Out()) == 0
    assert listened[-1] == ("0.0.0.0", 9000)
    assert "warning: --host 0.0.0.0 lets other machines" in capsys.readouterr().err
    assert opened == []


def test_the_command_says_when_the_port_is_taken(monkeypatch):
    uvicorn = pytest.importorskip("uvicorn")
    from ninestep.cli._common import Out

    def taken(self):
        raise SystemExit(1)  # what uvicorn does after logging "address already in use"
    monkeypatch.setattr(uvicorn.Server, "run", taken)
    command, args = _command_args(["--no-browser", "--port", "8123"])
    with pytest.raises(OSError, match="cannot listen on 127.0.0.1:8123.*choose another --port"):
        command.run(args, Out(quiet=True))


def _session(**settings):
    from ninestep.playground.session import Session
    from ninestep.playground.settings import parse_settings
    limits = Limits()
    return Session(parse_settings(settings, limits), limits)


def test_the_url_settings_survive_a_round_trip():
    from ninestep.playground.settings import Settings, parse_settings
    s = parse_settings({"preset": "article", "lr": "0.005", "layers": "3,5"}, Limits())
    assert parse_settings(s.query(), Limits(), base=Settings()) == s
    assert s.layers == (3, 5) and s.lr == 0.005 and s.bias == "same"


def test_the_output_map_and_a_unit_thumbnail_are_the_network_on_the_grid():
    import base64

    from ninestep.playground import views
    session = _session(**SMALL)
    session.run.train(5)
    frame = views.frame(session)
    res = views.OUTPUT_RES
    grid = np.frombuffer(base64.b64decode(frame["output"]["grid"]), np.uint8).reshape(res, res)
    (x_lo, x_hi), (y_lo, y_hi) = views.dataset(session)["axes"]
    corners = np.array([[x_lo, y_hi], [x_hi, y_hi], [x_lo, y_lo], [x_hi, y_lo]])  # row 0 is the top
    run = session.run
    p1 = run.net.forward(run.x_scaler.transform(corners))[:, 1]
    assert np.abs(grid[[0, 0, -1, -1], [0, -1, 0, -1]] - p1 * 255).max() <= 0.5 + 1e-9
    # hidden unit 0 over the coarser unit grid: tanh(Xs W1 + b1), scaled by its largest size to 0..255
    ures = views.UNIT_RES
    xs, ys = np.linspace(x_lo, x_hi, ures), np.linspace(y_hi, y_lo, ures)
    gx, gy = np.meshgrid(xs, ys)
    Xs = run.x_scaler.transform(np.column_stack([gx.ravel(), gy.ravel()]))
    a = np.tanh(Xs @ run.net.layers[0].W[:, 0] + run.net.layers[0].b[0])
    expected = np.rint((a / np.abs(a).max() + 1) / 2 * 255)
    thumb = np.frombuffer(base64.b64decode(frame["units"][0][0]["grid"]), np.uint8)
    assert np.abs(thumb - expected).max() <= 1


def test_a_relu_unit_that_is_off_on_every_training_row_is_marked_dead():
    from ninestep.playground import views
    session = _session(**{**SMALL, "act": "relu", "layers": "4,3", "init": "he_normal"})
    frame = views.frame(session)
    assert frame["dead"] == [0, 0]
    layer = session.run.net.layers[0]
    layer.W[:, 2] = 0.0
    layer.b[2] = -1.0  # Z = -1 for every row: the unit never fires, so it never learns again
    session.run.view_cache = None
    frame = views.frame(session)
    assert frame["dead"] == [1, 0] and frame["units"][0][2]["dead"] and not frame["units"][0][1]["dead"]


def test_only_the_allowed_host_names_are_answered():
    with TestClient(create_app(allowed_hosts=["127.0.0.1", "localhost"]), base_url="http://127.0.0.1") as c:
        assert c.get("/api/limits").status_code == 200
        assert c.get("/api/limits", headers={"host": "attacker.example"}).status_code == 400


def test_sessions_trained_at_once_in_threads_give_the_same_bits_as_alone():
    import threading
    alone = _session(**SMALL)
    alone.run.train(30)
    pair = [_session(**SMALL), _session(**SMALL)]
    shared = _session(**SMALL)

    def work(session):
        for _ in range(15):
            session.tick("step", 0)
    threads = [threading.Thread(target=work, args=(s,)) for s in (*pair, *pair, shared, shared)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in (*pair, shared):
        assert s.run.epoch == 30 and np.array_equal(s.run.net.params, alone.run.net.params)


def test_a_huge_json_body_is_refused_without_reading_it_all():
    client = TestClient(create_app())
    body = b'{"x": "' + b"a" * (1 << 20) + b'"}'
    r = client.post("/api/sessions", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "larger than" in r.json()["error"]
