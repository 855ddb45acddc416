"""What `tf-parity scan` sees in one Python file: the catalogue's pitfalls visible in source, found
with `ast` alone, and the facts (optimizers, initializers, loss reductions, named layers' padding and
batch-norm settings) that scan_cross compares between a TF1 tree and its port."""
import ast
from dataclasses import dataclass, field

UNKNOWN = object()   # a value the source does not fix (a parameter, a computed expression)
ERROR, WARNING, NOTE = "error", "warning", "note"

KERAS_OPTIMIZERS = {"Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "SGD", "Adagrad", "Adadelta", "Ftrl", "Lion"}
KERAS_PROBABILITY_LOSSES = {"CategoricalCrossentropy", "SparseCategoricalCrossentropy", "BinaryCrossentropy"}
KERAS_CONV = {"Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D",
              "MaxPool2D", "MaxPooling2D", "AveragePooling2D", "AvgPool2D"}
TF1_BN = {"tf.layers.batch_normalization": ("momentum", 0.99), "tf.contrib.layers.batch_norm": ("decay", 0.999)}
# Positional index of each setting, and its default, by optimizer and side.
TF1_OPTIMIZERS = {
    "AdamOptimizer": ("adam", {"learning_rate": (0, 0.001), "beta1": (1, 0.9), "beta2": (2, 0.999),
                               "epsilon": (3, 1e-8)}),
    "RMSPropOptimizer": ("rmsprop", {"learning_rate": (0, UNKNOWN), "decay": (1, 0.9), "momentum": (2, 0.0),
                                     "epsilon": (3, 1e-10)}),
    "MomentumOptimizer": ("sgd", {"learning_rate": (0, UNKNOWN), "momentum": (1, UNKNOWN)}),
    "GradientDescentOptimizer": ("sgd", {"learning_rate": (0, UNKNOWN), "momentum": (None, 0.0)}),
}
KERAS_OPTIMIZER_SETTINGS = {
    "Adam": ("adam", {"learning_rate": (0, 0.001), "beta_1": (1, 0.9), "beta_2": (2, 0.999), "epsilon": (3, 1e-7)}),
    "RMSprop": ("rmsprop", {"learning_rate": (0, 0.001), "rho": (1, 0.9), "momentum": (2, 0.0),
                            "epsilon": (3, 1e-7)}),
    "SGD": ("sgd", {"learning_rate": (0, 0.01), "momentum": (1, 0.0)}),
}
SAME_SETTING = {"beta1": "beta_1", "beta2": "beta_2", "decay": "rho"}   # TF1 name -> Keras name


@dataclass
class Finding:
    path: str
    line: int
    col: int          # 1-based
    key: str          # a catalogue id, or "tf-upgrade-v2"
    level: str
    message: str
    end_line: int = 0
    suppressed: str = ""   # the ignore comment's reason, where one suppresses it


@dataclass
class Setting:
    """One construction the cross-tree checks compare: an optimizer, an initializer, a loss
    reduction, or a named layer."""
    kind: str         # adam, rmsprop, sgd; stddev; reduction; conv, pool, bn
    path: str
    line: int
    col: int
    name: str = ""
    values: dict = field(default_factory=dict)
    end_line: int = 0


@dataclass
class FileScan:
    path: str
    findings: list
    settings: list
    helpers: dict     # function name -> {parameter: default value}, for calls from other files
    settled_saves: set = field(default_factory=set)   # lines whose .save() is a Saver's or a .keras/.h5 file


def dotted(node):
    """'a.b.c' for a Name or an Attribute chain; None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def normalize(name):
    """The API name with TF1's and TF2's spellings made one: tensorflow -> tf, compat.v1 and
    compat.v2 dropped, tf.keras / tf_keras -> keras."""
    for old, new in (("tensorflow.", "tf."), ("tf.compat.v1.", "tf."), ("tf.compat.v2.", "tf."),
                     ("tf.python.keras.", "keras."), ("tf.keras.", "keras."), ("tf_keras.", "keras."),
                     ("keras.src.", "keras.")):
        if name.startswith(old):
            name = new + name[len(old):]
    return name


class Aliases:
    """What each imported name stands for, read from the module's imports."""

    def __init__(self, tree):
        self.names = {"tf": "tensorflow"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.names[alias.asname] = alias.name
                    else:
                        self.names[alias.name.split(".")[0]] = alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    self.names[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def resolve(self, node):
        """(normalized name, raw full name) of a Name/Attribute chain, or (None, None)."""
        name = dotted(node)
        if name is None:
            return None, None
        head, _, rest = name.partition(".")
        full = self.names.get(head, head) + (f".{rest}" if rest else "")
        return normalize(full), full


def constants(tree):
    """Module-level `name = <number or string>` assignments (the last one wins)."""
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = literal(node.value, {})
            if value is not UNKNOWN:
                values[node.targets[0].id] = value
    return values


def literal(node, names):
    """The node's value where the source fixes it (constants, -x, module constants), else UNKNOWN."""
    if node is None:
        return UNKNOWN
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = literal(node.operand, names)
        return -value if isinstance(value, (int, float)) and not isinstance(value, bool) else UNKNOWN
    if isinstance(node, ast.Name):
        return names.get(node.id, UNKNOWN)
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [literal(e, names) for e in node.elts]
        return UNKNOWN if any(v is UNKNOWN for v in items) else tuple(items)
    return UNKNOWN


def keyword(call, name):
    return next((k.value for k in call.keywords if k.arg == name), None)


def argument(call, name, index):
    """The node passed as `name` (by keyword, or at positional `index`), or None."""
    node = keyword(call, name)
    if node is None and index is not None and index < len(call.args) and not any(
            isinstance(a, ast.Starred) for a in call.args[:index + 1]):
        node = call.args[index]
    return node


def helper_defaults(tree, names):
    """{function name: {parameter: default}} of the module's functions, for layer helpers."""
    helpers = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            params = [a.arg for a in node.args.posonlyargs + node.args.args]
            defaults = dict(zip(params[len(params) - len(node.args.defaults):],
                                (literal(d, names) for d in node.args.defaults)))
            for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults):
                defaults[a.arg] = literal(d, names)
            helpers[node.name] = {"params": params, "defaults": defaults}
    return helpers


class _Visitor(ast.NodeVisitor):
    def __init__(self, path, tree):
        self.path = path
        self.aliases = Aliases(tree)
        self.names = constants(tree)
        self.findings, self.settings, self.settled_saves = [], [], set()
        self.functions = 0      # depth of enclosing function definitions
        self.graph_blocks = 0   # depth of enclosing `with <graph>.as_default():`
        self.reduce_mean = 0    # depth of enclosing reduce_mean calls
        self.callback = None    # the enclosing Keras callback method, if any
        self.bound = _bindings(tree)
        self.update_ops = "UPDATE_OPS" in {getattr(n, "attr", getattr(n, "id", None)) for n in ast.walk(tree)}
        self.jit_compile = any(isinstance(n, ast.keyword) and n.arg == "jit_compile" and
                               isinstance(n.value, ast.Constant) and n.value.value is True for n in ast.walk(tree))
        self.batch_norm = any(self._name(n)[0] in TF1_BN for n in ast.walk(tree) if isinstance(n, ast.Call))

    def _name(self, call):
        return self.aliases.resolve(call.func)

    def add(self, node, key, level, message):
        self.findings.append(Finding(self.path, node.lineno, node.col_offset + 1, key, level, message,
                                     getattr(node, "end_lineno", node.lineno) or node.lineno))

    def setting(self, node, kind, name="", **values):
        self.settings.append(Setting(kind, self.path, node.lineno, node.col_offset + 1, name, values,
                                     getattr(node, "end_lineno", node.lineno) or node.lineno))

    # Scopes -----------------------------------------------------------------------------------

    def visit_FunctionDef(self, node):
        callback = self.callback
        if getattr(node, "name", None) in ("on_batch_end", "on_train_batch_end", "on_test_batch_end"):
            self.callback = node
        self.functions += 1
        self.generic_visit(node)
        self.functions -= 1
        self.callback = callback

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = visit_FunctionDef

    def visit_With(self, node):
        graph = any(isinstance(i.context_expr, ast.Call) and isinstance(i.context_expr.func, ast.Attribute) and
                    i.context_expr.func.attr == "as_default" for i in node.items)
        self.graph_blocks += graph
        self.generic_visit(node)
        self.graph_blocks -= graph

    def visit_Import(self, node):
        for alias in node.names:
            if alias.name.startswith("tensorflow.examples.tutorials"):
                self._input_data(node, alias.name)

    def visit_ImportFrom(self, node):
        module = node.module or ""
        full = [f"{module}.{a.name}" for a in node.names]
        if any(name.startswith("tensorflow.examples.tutorials") for name in [module, *full]):
            self._input_data(node, module)

    def _input_data(self, node, module):
        self.add(node, "input-data-removed", ERROR,
                 f"{module} does not exist in TF 2 (tf_upgrade_v2 does not flag it); its read_data_sets "
                 "reshuffles every epoch and fills the last batch from the next")

    def visit_Subscript(self, node):
        if self.callback and dotted(node.value) == "logs" and literal(node.slice, {}) == "loss":
            self._running_mean(node)
        self.generic_visit(node)

    def _running_mean(self, node):
        self.add(node, "fit-logs-running-mean", WARNING,
                 f"logs['loss'] in {self.callback.name} is the mean over the epoch so far in Keras 3's fit, "
                 "not this batch's loss as sess.run returned it")

    # Calls -------------------------------------------------------------------------------------

    def visit_Call(self, node):
        name, full = self._name(node)
        inside_mean = name in ("tf.reduce_mean", "tf.math.reduce_mean", "keras.ops.mean")
        self.reduce_mean += inside_mean
        if name:
            self._call(node, name, dotted(node.func))
            self._helper_call(node, name)
        attr = node.func.attr if isinstance(node.func, ast.Attribute) else None
        if attr:
            self._method(node, attr)
        self.generic_visit(node)
        self.reduce_mean -= inside_mean

    def _helper_call(self, node, name):
        """Records a call of a function that is not TensorFlow's or Keras', for scan_cross to read as a
        layer where the tree defines that function as a layer helper."""
        layer = literal(keyword(node, "name"), self.names)
        if not name.startswith(("tf.", "keras.")):
            self.setting(node, "call", layer if isinstance(layer, str) else "", function=name.rsplit(".", 1)[-1],
                         args=[literal(a, self.names) for a in node.args],
                         kwargs={k.arg: literal(k.value, self.names) for k in node.keywords if k.arg})

    def _call(self, node, name, full):
        last = name.rsplit(".", 1)[-1]
        for check in (self._optimizer, self._layers_v1, self._graph_mode, self._initializer, self._loss,
                      self._batch_norm, self._resize, self._padding, self._applications, self._determinism):
            check(node, name, last, full)

    def _method(self, node, attr):
        if attr == "minimize" and self.batch_norm and not self.update_ops:
            self.add(node, "batchnorm-update-ops", ERROR,
                     "this train op does not depend on tf.GraphKeys.UPDATE_OPS, and batch norm's moving averages "
                     "are updated only by those ops: they never leave 0 and 1")
        if attr in ("save_weights", "load_weights", "save") and node.args:
            path = literal(node.args[-1], self.names)
            self._weights_file(node, attr, literal(node.args[0], self.names))
            if attr == "save" and (len(node.args) >= 2 or (isinstance(path, str) and path.endswith((".keras", ".h5")))):
                self.settled_saves.add(node.lineno)
        if attr == "get" and self.callback and dotted(node.func.value) == "logs" and node.args and \
                literal(node.args[0], {}) == "loss":
            self._running_mean(node)
        if attr == "compile":
            optimizer = literal(keyword(node, "optimizer"), self.names)
            if isinstance(optimizer, str) and optimizer.lower() in ("adam", "rmsprop"):
                self.add(node, "adam-epsilon", WARNING,
                         f"optimizer={optimizer!r} builds Keras' {optimizer} with epsilon 1e-7; TF1's "
                         f"{'AdamOptimizer' if optimizer.lower() == 'adam' else 'RMSPropOptimizer'} used "
                         f"{'1e-8' if optimizer.lower() == 'adam' else '1e-10'}")

    def _weights_file(self, node, attr, path):
        if not isinstance(path, str):
            return
        if attr == "save_weights" and not path.endswith(".weights.h5"):
            self.add(node, "keras3-weights-format", ERROR,
                     f"Keras 3's save_weights writes only '.weights.h5' files; {path!r} raises ValueError")
        elif attr == "load_weights" and not path.endswith((".weights.h5", ".keras", ".h5")):
            self.add(node, "keras3-weights-format", ERROR,
                     f"Keras 3's load_weights does not read TF checkpoints such as {path!r}")
        elif attr == "save" and len(node.args) == 1 and (("." not in path.rsplit("/", 1)[-1]) or
                                                         path.endswith((".ckpt", ".tf", ".pb"))):
            self.add(node, "keras3-weights-format", ERROR,
                     f"Keras 3's Model.save writes only '.keras' (or legacy '.h5') files; {path!r} raises ValueError")

    def _optimizer(self, node, name, last, full):
        if name.startswith("tf.train.") and last in TF1_OPTIMIZERS:
            kind, spec = TF1_OPTIMIZERS[last]
            self.setting(node, kind, **self._values(node, spec))
        if not name.startswith("keras.optimizers.") or name.startswith("keras.optimizers.schedules"):
            return
        if name.startswith("keras.optimizers.legacy."):
            self.add(node, "keras3-lr-keyword", ERROR,
                     f"{full}: keras.optimizers.legacy raises ImportError in Keras 3 (tf_upgrade_v2 rewrites "
                     "tf.keras optimizers to it)")
        if last not in KERAS_OPTIMIZERS:
            return
        for word, what in (("lr", "raises ValueError ('Argument(s) not recognized')"),
                           ("decay", "is warned about and ignored: the rate stays constant")):
            if keyword(node, word) is not None:
                self.add(node, "keras3-lr-keyword", ERROR, f"{last}({word}=...) {what} in Keras 3")
        if last in ("Adam", "RMSprop") and argument(node, "epsilon", KERAS_OPTIMIZER_SETTINGS[last][1]["epsilon"][0]) \
                is None:
            self.add(node, "adam-epsilon", WARNING,
                     f"Keras' {last} defaults to epsilon 1e-7; TF1's "
                     f"{'AdamOptimizer used 1e-8' if last == 'Adam' else 'RMSPropOptimizer used 1e-10'}")
        if last in KERAS_OPTIMIZER_SETTINGS:
            kind, spec = KERAS_OPTIMIZER_SETTINGS[last]
            self.setting(node, kind, **self._values(node, spec))

    def _values(self, node, spec):
        return {key: (literal(argument(node, key, index), self.names)
                      if argument(node, key, index) is not None else default)
                for key, (index, default) in spec.items()}

    def _layers_v1(self, node, name, last, full):
        if name.startswith("tf.layers.") or name == "keras.utils.DeterministicRandomTestTool":
            self.add(node, "tf-keras-is-keras3", ERROR,
                     f"{full}: the v1 layers are gone with Keras 3 (AttributeError: 'not available with Keras 3'); "
                     "tf_upgrade_v2 is silent about them")
        if name.startswith("tf.layers.") and last in ("conv2d", "max_pooling2d", "average_pooling2d"):
            kind = "conv" if last == "conv2d" else "pool"
            self._named_layer(node, kind, padding=self._get(node, "padding", 4 if kind == "conv" else 3, "valid"))
        if name == "tf.contrib.layers.conv2d":
            self._named_layer(node, "conv", "scope", padding=self._get(node, "padding", 4, "SAME"))

    def _get(self, node, key, index, default):
        value = argument(node, key, index)
        return default if value is None else literal(value, self.names)

    def _named_layer(self, node, kind, name_key="name", **values):
        layer = literal(keyword(node, name_key), self.names)
        if isinstance(layer, str):
            self.setting(node, kind, layer, **values)

    def _graph_mode(self, node, name, last, full):
        if name == "tf.placeholder" and not self.functions and not self.graph_blocks:
            self.add(node, "placeholder-needs-graph", ERROR,
                     f"{full} at module level: TF 2 runs eagerly and raises RuntimeError here; build the graph "
                     "inside `with tf.Graph().as_default():`")
        if name in ("tf.disable_eager_execution", "tf.disable_v2_behavior"):
            self.add(node, "placeholder-needs-graph", WARNING,
                     f"{full}() switches the whole process to graph mode, which breaks Keras 3 in it")

    def _initializer(self, node, name, last, full):
        if name in ("tf.truncated_normal_initializer", "tf.initializers.truncated_normal"):
            stddev = argument(node, "stddev", 1)
            if stddev is None:
                self.add(node, "truncated-normal-stddev", WARNING,
                         f"{full}() has stddev 1.0; keras.initializers.TruncatedNormal() has 0.05")
            self.setting(node, "stddev", value=1.0 if stddev is None else literal(stddev, self.names))
        elif name in ("tf.truncated_normal", "tf.random.truncated_normal"):
            stddev = argument(node, "stddev", 2)
            self.setting(node, "stddev", value=1.0 if stddev is None else literal(stddev, self.names))
        elif name == "keras.initializers.TruncatedNormal":
            stddev = argument(node, "stddev", 1)
            if stddev is None:
                self.add(node, "truncated-normal-stddev", NOTE,
                         "keras.initializers.TruncatedNormal() has stddev 0.05; TF1's truncated_normal_initializer() "
                         "had 1.0: give the original's stddev")
            self.setting(node, "stddev", value=0.05 if stddev is None else literal(stddev, self.names), keras=True)
        elif name.startswith("keras.layers.") and last in ("Dense", "Conv2D") and keyword(node, "kernel_initializer") \
                is None:
            self.setting(node, "stddev", value="glorot_uniform", keras=True)

    def _loss(self, node, name, last, full):
        if name.startswith("tf.losses.") and keyword(node, "weights") is not None and \
                literal(keyword(node, "weights"), self.names) not in (1, 1.0):
            self.add(node, "loss-reduction", WARNING,
                     f"{full}(weights=...) divides by the number of non-zero weights (SUM_BY_NONZERO_WEIGHTS); "
                     "a Keras loss with sample weights divides by the batch size")
        if name.startswith("keras.losses.") and last in KERAS_PROBABILITY_LOSSES and \
                keyword(node, "from_logits") is None:
            self.add(node, "loss-reduction", NOTE,
                     f"{last}() takes probabilities (from_logits=False) and clips them to [1e-7, 1 - 1e-7] unless "
                     "they are a softmax or sigmoid layer's output, whose logits Keras 3 reads; TF1's *_with_logits "
                     "losses took logits: pass from_logits=True with the logits")
        reduction = keyword(node, "reduction")
        if reduction is not None and (literal(reduction, self.names) == "sum" or
                                      (dotted(reduction) or "").endswith("Reduction.SUM")):
            self._summed(node, f"{last}(reduction=sum)")
        if name in ("tf.reduce_sum", "tf.math.reduce_sum", "keras.ops.sum") and not self.reduce_mean and \
                len(node.args) == 1 and not node.keywords and self._is_loss(node.args[0]):
            self._summed(node, f"{full}(<per-example loss>)")
            self.setting(node, "reduction", value="sum")
        if name in ("tf.reduce_mean", "tf.math.reduce_mean", "keras.ops.mean") and len(node.args) == 1 and \
                not node.keywords and self._is_loss(node.args[0]):
            self.setting(node, "reduction", value="mean")
        if name.startswith("keras.losses.") and last[:1].isupper():
            value = literal(reduction, self.names) if reduction is not None else "sum_over_batch_size"
            if value is not UNKNOWN:
                self.setting(node, "reduction", value="sum" if value == "sum" else "mean", keras=True)
        if name in ("tf.log", "tf.math.log") and node.args and self._is_probability(node.args[0]):
            self.add(node, "keras-softmax-logits", WARNING,
                     "the log of softmax probabilities: the cross-entropy sticks at 16.1 (clipped) or turns "
                     "infinite where a probability saturates, where Keras 3's loss reads the logits; take "
                     "softmax_cross_entropy_with_logits of the logits")

    def _summed(self, node, what):
        self.add(node, "loss-sum-vs-mean", WARNING,
                 f"{what} sums over the batch: the loss and every gradient are batch-size times the mean's "
                 "that TF1's losses and Keras' default take")

    def _is_loss(self, node):
        if isinstance(node, ast.Name):
            node = self.bound.get(node.id)
        if not isinstance(node, ast.Call):
            return False
        name, _ = self._name(node)
        return bool(name) and (name.startswith(("tf.losses.", "keras.losses.")) or
                               "cross_entropy" in name.rsplit(".", 1)[-1])

    def _is_probability(self, node):
        if isinstance(node, ast.Call) and (self._name(node)[0] or "").endswith("clip_by_value"):
            return True
        if isinstance(node, ast.Name):
            node = self.bound.get(node.id)
        return isinstance(node, ast.Call) and (self._name(node)[0] or "") in ("tf.nn.softmax", "tf.math.softmax",
                                                                           "keras.activations.softmax")

    def _batch_norm(self, node, name, last, full):
        fused = literal(keyword(node, "fused"), self.names) if keyword(node, "fused") is not None else None
        if name == "tf.nn.fused_batch_norm" and literal(keyword(node, "is_training"), self.names) is not False:
            self._fused(node, full)
        elif name in TF1_BN and fused is not False:
            self._fused(node, full)
        if name in TF1_BN:
            key, default = TF1_BN[name]
            self._named_layer(node, "bn", "name" if key == "momentum" else "scope",
                              momentum=self._get(node, key, None, default), epsilon=self._get(node, "epsilon", None,
                                                                                              0.001))
        if name == "keras.layers.BatchNormalization":
            self._named_layer(node, "bn", momentum=self._get(node, "momentum", 1, 0.99),
                              epsilon=self._get(node, "epsilon", 2, 0.001))
        if name.startswith("keras.layers.") and last in KERAS_CONV:
            self._named_layer(node, "pool" if "Pool" in last else "conv",
                              padding=self._get(node, "padding", 3 if "Pool" not in last else 2, "valid"))

    def _fused(self, node, full):
        self.add(node, "batchnorm-fused-variance", WARNING,
                 f"{full} runs the fused kernel, which averages the Bessel-corrected variance n/(n-1) * var into "
                 "the moving variance; Keras averages the biased one")

    def _resize(self, node, name, last, full):
        if name == "tf.image.resize_bilinear" and literal(keyword(node, "half_pixel_centers"), {}) is not True:
            self.add(node, "resize-half-pixel-centers", WARNING,
                     f"{full} samples i * in / out (half_pixel_centers=False), tf.image.resize and UpSampling2D "
                     "(i + 0.5) * in / out - 0.5; tf_upgrade_v2 rewrites it to tf.image.resize, changing the values")
        elif name == "tf.image.resize_images" or self._name(node)[1] == "tensorflow.compat.v1.image.resize":
            method = dotted(keyword(node, "method")) or ""
            if not method or method.endswith("BILINEAR"):
                self.add(node, "resize-half-pixel-centers", WARNING,
                         f"{full} resizes bilinearly with TF1's half-pixel offset (half_pixel_centers=False); "
                         "tf.image.resize does not")

    def _padding(self, node, name, last, full):
        if name == "keras.layers.ZeroPadding2D":
            pad = literal(argument(node, "padding", 0), self.names) if argument(node, "padding", 0) is not None else 1
            if isinstance(pad, int) or (isinstance(pad, tuple) and all(isinstance(p, int) for p in pad)):
                self._symmetric(node, "ZeroPadding2D pads both sides alike")
        elif name == "tf.pad" and len(node.args) >= 2:
            pads = literal(node.args[1], self.names)
            if isinstance(pads, tuple) and len(pads) == 4 and all(isinstance(p, tuple) and len(p) == 2 and
                                                                 p[0] == p[1] for p in pads[1:3]) and \
                    any(p[0] for p in pads[1:3]):
                self._symmetric(node, "tf.pad pads height and width symmetrically")

    def _symmetric(self, node, what):
        self.add(node, "same-padding-asymmetric", WARNING,
                 f"{what}; TF1's padding='SAME' puts the odd extra pixel at the bottom and right, so a strided "
                 "conv or pool after it gives the same shape and other values")

    def _applications(self, node, name, last, full):
        if name.startswith("keras.applications.") and last[:1].isupper():
            self.add(node, "applications-bn-momentum", WARNING,
                     f"{full} builds every batch norm with momentum 0.999 and epsilon 1e-3, not the layer "
                     "defaults (0.99); the TF1 rebuild must use the same")
            self.setting(node, "bn", "*", momentum=0.999, epsilon=0.001)

    def _determinism(self, node, name, last, full):
        if last == "enable_op_determinism" and self.jit_compile:
            self.add(node, "determinism-xla-maxpool", WARNING,
                     "op determinism with jit_compile=True in the same program: XLA refuses MaxPool gradients "
                     "once determinism is on (UnimplementedError), on CPU too")


def _bindings(tree):
    """{name: value node} of simple assignments anywhere in the module (the last one wins)."""
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            bound[node.targets[0].id] = node.value
    return bound


def scan_source(path, text):
    """A FileScan of one file's source; SyntaxError where it does not parse."""
    tree = ast.parse(text, filename=path)
    visitor = _Visitor(path, tree)
    visitor.visit(tree)
    return FileScan(path, visitor.findings, visitor.settings, helper_defaults(tree, visitor.names),
                    visitor.settled_saves)

