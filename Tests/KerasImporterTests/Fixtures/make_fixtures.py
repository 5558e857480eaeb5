"""Builds the small Keras models the Keras importer tests run, with Keras's own outputs.

Run from this folder with Keras 3 on the JAX backend (no TensorFlow needed):

    python3 -m venv /tmp/kenv && /tmp/kenv/bin/pip install keras jax h5py numpy
    KERAS_BACKEND=jax JAX_PLATFORMS=cpu /tmp/kenv/bin/python make_fixtures.py

Writes, for each model NAME: NAME.h5 (model.save, legacy HDF5), NAME_input.npy (NHWC, float32)
and NAME_output_K.npy for each model output K (Keras's predict). Weights are random and
BatchNormalization statistics non-trivial, so every layer is exercised. Also writes files in
Keras 2's spellings (rewritten with h5py from a Keras 3 model: same weights, same outputs) and
the deliberately broken files of the error tests (bad_*.h5). versions.json records the versions.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import h5py
import jax
import keras
import numpy as np

L = keras.layers
rng = np.random.default_rng(1234)
HERE = os.path.dirname(os.path.abspath(__file__))


def randomize(model):
    """Random weights everywhere; BN variances and Normalization variances positive."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            randomize(layer)
            continue
        values = []
        for w in layer.weights:
            shape = tuple(w.shape)
            name = w.name
            if "variance" in name:
                v = rng.uniform(0.5, 1.5, shape)
            elif "count" in name:
                v = np.full(shape, 10)
            elif "gamma" in name:
                v = rng.uniform(0.6, 1.4, shape)
            else:
                v = rng.normal(0, 0.5, shape)
            values.append(np.asarray(v, dtype=w.dtype))
        if values:
            layer.set_weights(values)


def save(model, name, input_shape, batch=2, low=-1.0, high=1.0):
    randomize(model)
    path = os.path.join(HERE, f"{name}.h5")
    model.save(path)
    x = rng.uniform(low, high, (batch,) + input_shape).astype(np.float32)
    np.save(os.path.join(HERE, f"{name}_input.npy"), x)
    reloaded = keras.models.load_model(path, compile=False)
    outs = reloaded.predict(x, verbose=0)
    if not isinstance(outs, (list, tuple)):
        outs = [outs]
    for k, o in enumerate(outs):
        np.save(os.path.join(HERE, f"{name}_output_{k}.npy"), np.asarray(o, dtype=np.float32))
    return path, x, outs


def conv_layers():
    """Conv2D (same with an even kernel and stride 2, valid with dilation, groups, no bias),
    DepthwiseConv2D, SeparableConv2D, Conv2DTranspose (same / valid, strides, dilation,
    output_padding), fused activations."""
    x = keras.Input((13, 12, 3), name="image")
    c1 = L.Conv2D(4, 4, strides=2, padding="same", activation="relu", name="c_same_even")(x)
    c2 = L.Conv2D(6, (3, 2), padding="valid", dilation_rate=2, use_bias=False, name="c_dilated")(x)
    c3 = L.Conv2D(4, 3, padding="same", groups=2, name="c_groups")(c1)
    c4 = L.Conv2D(3, (2, 3), strides=(2, 1), padding="same", name="c_rect")(x)
    d1 = L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, activation="relu6", name="dw")(x)
    d2 = L.DepthwiseConv2D(2, padding="valid", dilation_rate=2, use_bias=False, name="dw_dilated")(x)
    s1 = L.SeparableConv2D(5, 3, padding="same", depth_multiplier=2, activation="tanh", name="sep")(x)
    s2 = L.SeparableConv2D(4, 3, strides=2, padding="valid", use_bias=False, name="sep_strided")(x)
    t1 = L.Conv2DTranspose(3, 3, strides=2, padding="same", name="t_same3")(c1)
    t2 = L.Conv2DTranspose(2, 4, strides=2, padding="same", name="t_same4")(c1)
    t3 = L.Conv2DTranspose(2, 3, strides=2, padding="valid", name="t_valid")(c1)
    t4 = L.Conv2DTranspose(2, 3, padding="valid", dilation_rate=2, use_bias=False, name="t_dilated")(c1)
    t5 = L.Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=0, name="t_outpad")(c1)
    t6 = L.Conv2DTranspose(2, (1, 2), strides=(2, 3), padding="same", name="t_small_kernel")(c1)
    outs = [c1, c2, c3, c4, d1, d2, s1, s2, t1, t2, t3, t4, t5, t6]
    return keras.Model(x, outs, name="conv_layers"), (13, 12, 3)


ACTIVATIONS = ["relu", "relu6", "sigmoid", "hard_sigmoid", "softmax", "tanh", "swish", "silu", "elu",
               "selu", "gelu", "linear", "softplus", "softsign", "exponential", "leaky_relu", "hard_silu",
               "mish", "log_softmax", "hard_tanh", "log_sigmoid", "tanh_shrink"]


def activations():
    """Every Activation by name, and the activation layers with their parameters."""
    x = keras.Input((5, 6, 4), name="x")
    base = L.Conv2D(4, 1, name="base")(x)
    outs = [L.Activation(a, name=f"act_{a}")(base) for a in ACTIVATIONS]
    outs += [
        L.ReLU(name="relu_plain")(base),
        L.ReLU(max_value=6.0, name="relu_max")(base),
        L.ReLU(negative_slope=0.1, name="relu_slope")(base),
        L.ReLU(threshold=0.5, name="relu_threshold")(base),
        L.ReLU(max_value=0.8, negative_slope=0.2, threshold=0.3, name="relu_all")(base),
        L.LeakyReLU(negative_slope=0.2, name="leaky")(base),
        L.PReLU(name="prelu")(base),
        L.PReLU(shared_axes=[1, 2], name="prelu_shared")(base),
        L.ELU(alpha=0.7, name="elu_layer")(base),
        L.Softmax(name="softmax_layer")(base),
        L.Softmax(axis=1, name="softmax_axis1")(base),
        L.Dense(3, activation="softmax", name="dense_softmax")(L.Flatten(name="flat")(base)),
    ]
    return keras.Model(x, outs, name="activations"), (5, 6, 4)


def pool_merge():
    """Pooling (same / valid, count excluding padding), global pooling (keepdims), the merge
    layers, ZeroPadding2D, Cropping2D, UpSampling2D (nearest, bilinear)."""
    x = keras.Input((9, 10, 4), name="x")
    a = L.Conv2D(4, 1, name="a")(x)
    b = L.Conv2D(4, 1, name="b")(x)
    c = L.Conv2D(4, 1, name="c")(x)
    outs = [
        L.MaxPooling2D(3, strides=2, padding="same", name="max_same")(a),
        L.MaxPooling2D(2, name="max_valid")(a),
        L.AveragePooling2D(3, strides=2, padding="same", name="avg_same")(a),
        L.AveragePooling2D((2, 3), strides=(1, 2), name="avg_valid")(a),
        L.GlobalAveragePooling2D(keepdims=True, name="gap_keep")(a),
        L.GlobalMaxPooling2D(name="gmp")(a),
        L.GlobalAveragePooling2D(name="gap")(a),
        L.Add(name="add3")([a, b, c]),
        L.Subtract(name="sub")([a, b]),
        L.Multiply(name="mul")([a, b]),
        L.Average(name="avg3")([a, b, c]),
        L.Maximum(name="maximum")([a, b]),
        L.Minimum(name="minimum")([a, b]),
        L.Concatenate(name="concat_c")([a, b]),
        L.Concatenate(axis=1, name="concat_h")([a, b]),
        L.Concatenate(axis=2, name="concat_w")([a, c]),
        L.ZeroPadding2D(((1, 2), (0, 3)), name="zpad")(a),
        L.ZeroPadding2D(1, name="zpad_sym")(a),
        L.Cropping2D(((1, 2), (2, 1)), name="crop")(a),
        L.Cropping2D((0, 2), name="crop_w")(a),
        L.UpSampling2D(2, name="up_nearest")(a),
        L.UpSampling2D((2, 3), interpolation="bilinear", name="up_bilinear")(a),
        L.UpSampling2D(3, interpolation="bilinear", name="up_bilinear3")(a),
    ]
    return keras.Model(x, outs, name="pool_merge"), (9, 10, 4)


def dense_reshape():
    """Rescaling, Normalization, Dense on 2-D / 3-D / 4-D inputs, Flatten (NHWC order),
    Reshape, Permute, the inference no-ops, BatchNormalization without center / scale, and
    the 1-D layers (Conv1D causal, pooling, UpSampling1D, ZeroPadding1D, Cropping1D)."""
    x = keras.Input((6, 5, 3), name="x")
    r = L.Rescaling(0.5, offset=0.1, name="rescale")(x)
    norm = L.Normalization(name="norm")
    norm.adapt(rng.normal(0.3, 2.0, (16, 6, 5, 3)).astype(np.float32))
    n = norm(r)
    n = L.Dropout(0.5, name="drop")(n)
    n = L.SpatialDropout2D(0.5, name="sdrop")(n)
    n = L.GaussianNoise(0.3, name="noise")(n)
    n = L.GaussianDropout(0.3, name="gdrop")(n)
    d4 = L.Dense(4, activation="relu", name="dense4d")(n)
    bn1 = L.BatchNormalization(center=False, name="bn_nocenter")(d4)
    bn2 = L.BatchNormalization(scale=False, epsilon=0.01, name="bn_noscale")(bn1)
    flat = L.Flatten(name="flatten")(bn2)
    head = L.Dense(8, name="dense2d")(flat)
    head = L.BatchNormalization(name="bn_2d")(head)
    head = L.Dense(5, activation="softmax", name="probs")(head)
    seq = L.Reshape((30, 3), name="to_seq")(n)
    d3 = L.Dense(4, name="dense3d")(seq)
    conv1 = L.Conv1D(4, 3, padding="causal", dilation_rate=2, name="conv1d_causal")(d3)
    conv1b = L.Conv1D(3, 4, strides=2, padding="same", name="conv1d_same")(conv1)
    p1 = L.MaxPooling1D(2, name="max1d")(conv1b)
    p2 = L.AveragePooling1D(3, strides=2, padding="same", name="avg1d")(conv1)
    up1 = L.UpSampling1D(2, name="up1d")(p1)
    zp1 = L.ZeroPadding1D((1, 2), name="zpad1d")(up1)
    cr1 = L.Cropping1D((2, 1), name="crop1d")(zp1)
    g1 = L.GlobalAveragePooling1D(name="gap1d")(cr1)
    g2 = L.GlobalMaxPooling1D(keepdims=True, name="gmp1d")(p2)
    back = L.Reshape((5, 6, 3), name="reshape4d")(n)
    back = L.Conv2D(2, 2, name="after_reshape")(back)
    perm = L.Permute((2, 1, 3), name="permute")(n)
    perm = L.Conv2D(2, 2, name="after_permute")(perm)
    perm3 = L.Permute((3, 1, 2), name="permute_c_first")(n)
    flat_perm = L.Flatten(name="flatten_perm")(perm3)
    outs = [head, d3, cr1, g1, g2, back, perm, flat_perm, n]
    return keras.Model(x, outs, name="dense_reshape"), (6, 5, 3)


def conv1d_layers():
    """The 1-D convolutions (transposed, depthwise, separable) and Dense on a rank-5 tensor."""
    x = keras.Input((11, 4), name="seq")
    t = L.Conv1DTranspose(3, 3, strides=2, padding="same", name="t1d")(x)
    tv = L.Conv1DTranspose(2, 4, strides=3, padding="valid", name="t1d_valid")(x)
    d = L.DepthwiseConv1D(3, depth_multiplier=2, padding="same", strides=2, name="dw1d")(x)
    s = L.SeparableConv1D(5, 3, padding="valid", dilation_rate=2, name="sep1d")(x)
    r5 = L.Reshape((11, 2, 1, 2), name="to_5d")(x)
    d5 = L.Dense(3, activation="tanh", name="dense5d")(r5)
    return keras.Model(x, [t, tv, d, s, d5], name="conv1d_layers"), (11, 4)


def two_inputs():
    """Two inputs (an image and a vector), merged after global pooling."""
    image = keras.Input((6, 5, 3), name="image")
    vector = keras.Input((4,), name="vector")
    h = L.Conv2D(4, 3, padding="same", activation="relu", name="conv")(image)
    h = L.GlobalAveragePooling2D(name="gap")(h)
    v = L.Dense(4, name="embed")(vector)
    out = L.Dense(3, activation="softmax", name="probs")(L.Concatenate(name="cat")([h, v]))
    return keras.Model([image, vector], out, name="two_inputs")


def nested_shared():
    """A shared layer (called twice), a nested Sequential and a nested Functional model, and a
    nested model called twice."""
    inner = keras.Sequential([keras.Input((6, 6, 4)), L.Conv2D(4, 3, padding="same", name="c"),
                              L.BatchNormalization(name="bn"), L.ReLU(name="r")], name="innerseq")
    fin = keras.Input((6, 6, 4), name="fin")
    inner_f = keras.Model(fin, L.Conv2D(4, 1, name="c")(fin), name="innerfun")
    inp = keras.Input((6, 6, 3), name="inp")
    shared = L.Conv2D(4, 1, name="shared")
    a = shared(inp)
    b = shared(L.Rescaling(2.0, name="double")(inp))
    h = L.Add(name="add")([a, b])
    h = inner(h)
    h1 = inner_f(h)
    h2 = inner_f(L.Activation("sigmoid", name="sig")(h))
    out = L.Concatenate(name="cat")([h1, h2])
    out = L.GlobalAveragePooling2D(name="gap")(out)
    out = L.Dense(3, activation="softmax", name="pred")(out)
    return keras.Model(inp, out, name="nested_shared"), (6, 6, 3)


def residual_functional():
    """A plain functional model (residual Add, Concatenate, a shared layer) for the Keras 2 rewrite."""
    x = keras.Input((8, 8, 3), name="input_1")
    h = L.Conv2D(4, 3, padding="same", name="conv2d_1")(x)
    h = L.BatchNormalization(name="batch_normalization_1")(h)
    h = L.Activation("relu", name="activation_1")(h)
    shared = L.Conv2D(4, 3, padding="same", name="conv2d_shared")
    a = shared(h)
    b = shared(L.Activation("tanh", name="activation_2")(h))
    h = L.Add(name="add_1")([h, a, b])
    h = L.Concatenate(name="concatenate_1")([h, L.MaxPooling2D(1, name="max_pooling2d_1")(x)])
    h = L.GlobalAveragePooling2D(name="global_average_pooling2d_1")(h)
    out = L.Dense(3, activation="softmax", name="predictions")(h)
    return keras.Model(x, out, name="model_1"), (8, 8, 3)


def sequential_model():
    """A Keras 3 Sequential model (InputLayer entry, build_input_shape)."""
    m = keras.Sequential([
        keras.Input((8, 8, 2)),
        L.Conv2D(3, 3, padding="same", name="conv"),
        L.BatchNormalization(name="bn"),
        L.LeakyReLU(negative_slope=0.3, name="leaky"),
        L.MaxPooling2D(2, name="pool"),
        L.Flatten(name="flatten"),
        L.Dense(4, activation="softmax", name="probs"),
    ], name="seq")
    return m, (8, 8, 2)


def keras2_sequential(path3, name):
    """The Sequential model's file rewritten in Keras 2.1's spelling: the config a bare list of
    layers with batch_input_shape on the first, LeakyReLU's 'alpha', weight names with ':0'
    under a differently named group, layer_names split in chunks (layer_names0, layer_names1),
    keras_version 2.1.6 — the same weights and outputs."""
    src = h5py.File(path3, "r")
    cfg = json.loads(src.attrs["model_config"])
    layers = []
    shape = None
    for entry in cfg["config"]["layers"]:
        c = dict(entry["config"])
        if entry["class_name"] == "InputLayer":
            shape = c["batch_shape"]
            continue
        c.pop("dtype", None)
        if entry["class_name"] == "LeakyReLU":
            c["alpha"] = c.pop("negative_slope")
        if shape is not None:
            c["batch_input_shape"] = shape
            shape = None
        layers.append({"class_name": entry["class_name"], "config": c})
    dst_path = os.path.join(HERE, f"{name}.h5")
    with h5py.File(dst_path, "w") as dst:
        dst.attrs["keras_version"] = np.bytes_("2.1.6")
        dst.attrs["backend"] = np.bytes_("tensorflow")
        dst.attrs["model_config"] = np.bytes_(json.dumps({"class_name": "Sequential", "config": layers}))
        mw = dst.create_group("model_weights")
        names = [l["config"]["name"] for l in layers]
        # As Keras writes an attribute over HDF5's 64 KiB limit: in numbered chunks.
        mw.attrs["layer_names0"] = np.array([n.encode() for n in names[:3]])
        mw.attrs["layer_names1"] = np.array([n.encode() for n in names[3:]])
        mw.attrs["backend"] = np.bytes_("tensorflow")
        mw.attrs["keras_version"] = np.bytes_("2.1.6")
        for n in names:
            g = mw.create_group(n)
            src_g = src["model_weights"][n]
            wnames = [w.decode() if isinstance(w, bytes) else str(w) for w in src_g.attrs["weight_names"]]
            new_names = []
            for w in wnames:
                var = w.split("/")[-1]
                new = f"{n}_1/{var}:0"
                g.create_dataset(new, data=src_g[w][()])
                new_names.append(new.encode())
            g.attrs["weight_names"] = np.array(new_names) if new_names else np.array([], dtype=np.float64)
    return dst_path


def keras2_functional(path3, name):
    """A Functional model's file rewritten with Keras 2's inbound_nodes ([[layer, node,
    tensor, {}]]), 'Model' class name, input_layers/output_layers lists, ':0' weight names."""
    src = h5py.File(path3, "r")
    cfg = json.loads(src.attrs["model_config"])
    out_layers = []
    for entry in cfg["config"]["layers"]:
        c = dict(entry["config"])
        c.pop("dtype", None)
        if entry["class_name"] == "InputLayer":
            c["batch_input_shape"] = c.pop("batch_shape")
        nodes = []
        for node in entry["inbound_nodes"]:
            refs = []

            def collect(v):
                if isinstance(v, list):
                    for i in v:
                        collect(i)
                elif isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
                    h = v["config"]["keras_history"]
                    refs.append([h[0], h[1], h[2], {}])
            collect(node["args"])
            nodes.append(refs)
        out_layers.append({"class_name": entry["class_name"], "name": entry["name"], "config": c, "inbound_nodes": nodes})

    def as_list(v):
        return [v] if isinstance(v[0], str) else v
    new_cfg = {"class_name": "Model", "config": {"name": cfg["config"]["name"], "layers": out_layers,
                                                "input_layers": as_list(cfg["config"]["input_layers"]),
                                                "output_layers": as_list(cfg["config"]["output_layers"])}}
    dst_path = os.path.join(HERE, f"{name}.h5")
    with h5py.File(dst_path, "w") as dst:
        dst.attrs["keras_version"] = np.bytes_("2.2.4")
        dst.attrs["backend"] = np.bytes_("tensorflow")
        dst.attrs["model_config"] = np.bytes_(json.dumps(new_cfg))
        mw = dst.create_group("model_weights")
        names = [w.decode() if isinstance(w, bytes) else str(w) for w in src["model_weights"].attrs["layer_names"]]
        mw.attrs["layer_names"] = np.array([n.encode() for n in names])
        for n in names:
            g = mw.create_group(n)
            src_g = src["model_weights"][n]
            wnames = [w.decode() if isinstance(w, bytes) else str(w) for w in src_g.attrs["weight_names"]]
            new_names = []
            for w in wnames:
                new = f"{n}/{w.split('/')[-1]}:0"
                g.create_dataset(new, data=src_g[w][()])
                new_names.append(new.encode())
            g.attrs["weight_names"] = np.array(new_names) if new_names else np.array([], dtype=np.float64)
    return dst_path


def broken_files(seq_path):
    """Files for the error tests, each derived from the small Sequential model."""
    def copy(name):
        dst = os.path.join(HERE, f"{name}.h5")
        with open(seq_path, "rb") as f, open(dst, "wb") as g:
            g.write(f.read())
        return dst

    # The conv layer's bias is listed in the config (use_bias) but missing from the file.
    p = copy("bad_missing_weight")
    with h5py.File(p, "r+") as f:
        g = f["model_weights"]["conv"]
        names = [w for w in g.attrs["weight_names"] if not str(w).endswith("bias")]
        del g[[w for w in g.attrs["weight_names"] if str(w).endswith("bias")][0]]
        g.attrs["weight_names"] = np.array(names, dtype=h5py.string_dtype())
    # An unknown layer class.
    p = copy("bad_unknown_layer")
    with h5py.File(p, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        cfg["config"]["layers"][3]["class_name"] = "FancyAttention"
        f.attrs["model_config"] = json.dumps(cfg)
    # The dense kernel's shape disagrees with the config (units 4 → stored with 5 columns).
    p = copy("bad_shape_mismatch")
    with h5py.File(p, "r+") as f:
        g = f["model_weights"]["probs"]
        name = [w for w in g.attrs["weight_names"] if str(w).endswith("kernel")][0]
        k = g[name][()]
        del g[name]
        g.create_dataset(name, data=np.concatenate([k, k[:, :1]], axis=1))
    # A config whose inbound node names a layer that does not exist.
    p = copy("bad_dangling_input")
    with h5py.File(p, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        cfg["class_name"] = "Functional"
        layers = cfg["config"]["layers"]
        for i, l in enumerate(layers):
            l["name"] = l["config"]["name"] = l["config"].get("name", f"input_{i}")
            l["inbound_nodes"] = [] if i == 0 else [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": [layers[i - 1]["name"], 0, 0]}}], "kwargs": {}}]
        layers[4]["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = ["ghost", 0, 0]
        cfg["config"]["input_layers"] = [layers[0]["name"], 0, 0]
        cfg["config"]["output_layers"] = [layers[-1]["name"], 0, 0]
        f.attrs["model_config"] = json.dumps(cfg)
    # Weights only (model.save_weights): no model_config.
    p = copy("bad_weights_only")
    with h5py.File(p, "r+") as f:
        del f.attrs["model_config"]


def main():
    versions = {"keras": keras.__version__, "backend": keras.backend.backend(), "jax": jax.__version__,
                "h5py": h5py.__version__, "numpy": np.__version__}
    for build in (conv_layers, activations, pool_merge, dense_reshape, conv1d_layers, nested_shared):
        model, shape = build()
        save(model, build.__name__, shape)
    model = two_inputs()
    randomize(model)
    model.save(os.path.join(HERE, "two_inputs.h5"))
    xs = [rng.uniform(-1, 1, (2, 6, 5, 3)).astype(np.float32), rng.uniform(-1, 1, (2, 4)).astype(np.float32)]
    for k, x in enumerate(xs):
        np.save(os.path.join(HERE, f"two_inputs_input_{k}.npy"), x)
    out = keras.models.load_model(os.path.join(HERE, "two_inputs.h5"), compile=False).predict(xs, verbose=0)
    np.save(os.path.join(HERE, "two_inputs_output_0.npy"), np.asarray(out, np.float32))
    model, shape = sequential_model()
    seq_path, x, outs = save(model, "sequential", shape)
    k2 = keras2_sequential(seq_path, "keras2_sequential")
    np.save(os.path.join(HERE, "keras2_sequential_input.npy"), x)
    np.save(os.path.join(HERE, "keras2_sequential_output_0.npy"), np.asarray(outs[0], np.float32))
    model, shape = residual_functional()
    path, x, outs = save(model, "functional_k3", shape)
    keras2_functional(path, "keras2_functional")
    np.save(os.path.join(HERE, "keras2_functional_input.npy"), x)
    np.save(os.path.join(HERE, "keras2_functional_output_0.npy"), np.asarray(outs[0], np.float32))
    os.remove(path)
    for f in os.listdir(HERE):
        if f.startswith("functional_k3"):
            os.remove(os.path.join(HERE, f))
    broken_files(seq_path)
    with open(os.path.join(HERE, "versions.json"), "w") as f:
        json.dump(versions, f, indent=1)


if __name__ == "__main__":
    main()
