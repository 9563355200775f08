"""Cython's command line, with CPython's source positions at its error sites, and, for code written
for Python, Python's comparisons of numbers with strings (at the end of this file).

Run by the toolchain's python3 as `python3 -c <this file> CYTHON_DIR ARGS...`: Cython's own
`setuptools_main` with ARGS, after those changes. Where Cython's C records a line for a traceback
(`__PYX_ERR(file, line, label)` and `__PYX_MARK_ERR_POS(file, line)`), this gives the position
CPython 3.13 gives the same operation (its `co_positions`, from which `traceback` draws the
`~~~^^^` markers and the lines of a statement that spans several):

    __PYX_ERR(0, LINE, label)/*pyelf-at END_LINE COL END_COL*/

LINE is then CPython's first line of the expression, and the columns are UTF-8 byte offsets, as in
`co_positions`. A method call (`obj.name(...)`) has the method lookup's position and the method's
name after it (`LINE END_LINE COL END_COL NAME`): Cython looks the method up and calls it in one
step. `cython::python_positions` turns the comment into a site of the module's table.

Cython gives each node the position of its operator token (`/` of `a / b`, `(` of a call, `.` of
an attribute, `[` of a subscript); CPython gives the instruction the span of the whole expression.
The expression is the innermost one of Python's own parse (`ast`) that holds Cython's position.
Where that is a compound statement (an `if` with its body, a `def`), or nothing is found, the site
keeps Cython's line and no columns, as before.
"""

import ast
import bisect
import contextlib
import importlib.util
import sys
import warnings

sys.path.insert(0, sys.argv.pop(1))

from Cython.Compiler import Code  # noqa: E402
from Cython.Compiler.Main import setuptools_main  # noqa: E402

# Statements whose span holds other statements: CPython never gives one instruction all of it.
COMPOUND = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.Try,
    ast.TryStar,
    ast.Match,
)

# Cython's nodes that look up and call `__enter__` and `__exit__`.
WITH_NODES = ("WithStatNode", "WithExitCallNode")

# Cython's nodes that read the target of `x += y` (the rest there is the operation).
TARGET_READS = ("NameNode", "AttributeNode", "IndexNode")

# Cython's nodes of the module's own machinery (its init, its utility code), which Cython places
# at the module's first line: no position of the source is theirs.
MACHINERY = ("GlobalState", "ModuleNode", "UtilityCode", "TempitaUtilityCode", "DefNodeWrapper")

# CPython's STACK_USE_GUIDELINE: a method call with as many arguments is compiled as a plain call.
STACK_USE_GUIDELINE = 30


class Source:
    """One Python file's parse, to find the expression at a position."""

    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        self.tree = ast.parse(data)
        text = importlib.util.decode_source(data)
        self.lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self.kids = {}
        self.imported = module_imports(self.tree)

    def children(self, node):
        """The nearest descendants of `node` that have a position, as `(start, end, node)` sorted by
        start (nodes without one, such as a call's `arguments`, are looked through)."""
        found = self.kids.get(id(node))
        if found is None:
            found = []
            pending = list(ast.iter_child_nodes(node))
            while pending:
                n = pending.pop()
                if getattr(n, "end_col_offset", None) is not None and getattr(n, "end_lineno", None) is not None:
                    found.append(((n.lineno, n.col_offset), (n.end_lineno, n.end_col_offset), n))
                else:
                    pending.extend(ast.iter_child_nodes(n))
            found.sort(key=lambda t: t[0])
            self.kids[id(node)] = found
        return found

    def point(self, line, col):
        """Cython's `line` and `col` (characters) as a line and a UTF-8 byte column, as the parse
        gives positions, or None."""
        if not 0 < line <= len(self.lines) or col > len(self.lines[line - 1]):
            return None
        return (line, len(self.lines[line - 1][:col].encode()))

    def innermost(self, point):
        """The expressions and statements holding `point`, outermost first."""
        node, found = self.tree, []
        while True:
            kids = self.children(node)
            i = bisect.bisect_right(kids, point, key=lambda t: t[0])
            # The last child starting at or before the point, or one just before it (children
            # seldom overlap: a decorator, an f-string's parts).
            hit = next((n for start, end, n in reversed(kids[max(0, i - 3) : i]) if start <= point < end), None)
            if hit is None:
                return found
            if isinstance(hit, (ast.expr, ast.stmt)):
                found.append(hit)
            node = hit

    def position(self, line, col, by):
        """CPython's `(line, end_line, col, end_col)` of the operation at Cython's position, or
        None; for a method call, followed by the method lookup's and the method's name. `by`: the
        class of Cython's node that checks the error."""
        point = self.point(line, col)
        path = self.innermost(point) if point is not None else []
        if not path:
            return None
        # A `with`: Cython enters and leaves it (looks up and calls `__enter__` and `__exit__`) at
        # the start of the context expression, CPython at all of it.
        for i, n in enumerate(path[:-1]):
            if isinstance(n, (ast.With, ast.AsyncWith)):
                context = path[i + 1]
                starts_it = any(item.context_expr is context for item in n.items) and point == (
                    context.lineno,
                    context.col_offset,
                )
                if by in WITH_NODES or (starts_it and by != "NameNode"):
                    return raw_span(context)
        # `x += y`: the operation is at the statement, CPython's name, attribute or subscript
        # reads at the target, and Cython puts both at the target.
        for i, n in enumerate(path[:-1]):
            if isinstance(n, ast.AugAssign) and path[i + 1] is n.target and by not in TARGET_READS:
                return raw_span(n)
        if isinstance(path[-1], COMPOUND):
            return None
        node, parent = path[-1], path[-2] if len(path) > 1 else None
        if isinstance(node, (ast.Name, ast.Starred)) and isinstance(node.ctx, ast.Store):
            # Storing a name cannot fail: Cython's position of unpacking into `a, b` is the first
            # name's, CPython's the target's.
            if isinstance(parent, (ast.Tuple, ast.List)):
                node = parent
        elif isinstance(node, ast.GeneratorExp) and isinstance(parent, ast.Call) and parent.args == [node]:
            # `sum(x for x in y)`, which Cython runs as a loop of its own: CPython's call.
            node = parent
        elif isinstance(node, ast.Assert):
            # The AssertionError is raised at the test's position.
            return raw_span(node.test)
        at = self.span(node)
        if at is None:
            return None
        # A call of `obj.name(...)`: Cython looks the method up and calls it in one step, at the
        # call's position, and CPython fails an attribute that is not there at the attribute's.
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            lookup = self.span(node.func)
            if lookup is not None and node.func.attr.isidentifier():
                return at + lookup + (node.func.attr,)
        return at

    def span(self, node):
        """CPython's `(line, end_line, col, end_col)` of the instruction for `node`."""
        at = [node.lineno, node.end_lineno, node.col_offset, node.end_col_offset]
        # compile.c's update_start_location_to_match_attr: an attribute, and a method call, start
        # on the attribute's line when they span several.
        attr = None
        if isinstance(node, ast.Attribute):
            attr = node
        elif isinstance(node, ast.Call) and self.is_method_call(node):
            attr = node.func
        if attr is not None and at[0] != attr.end_lineno:
            at[0] = attr.end_lineno
            if len(attr.attr) > attr.end_col_offset:
                return None
            at[2] = attr.end_col_offset - len(attr.attr)
            at[1] = max(at[0], at[1])
            if at[0] == at[1]:
                at[3] = max(at[2], at[3])
        return tuple(at)

    def is_method_call(self, call):
        """Whether CPython 3.13 compiles `call` as a method call (compile.c's
        maybe_optimize_method_call)."""
        func = call.func
        if not isinstance(func, ast.Attribute) or not isinstance(func.ctx, ast.Load):
            return False
        if isinstance(func.value, ast.Name) and func.value.id in self.imported:
            return False
        args, kwds = len(call.args), len(call.keywords)
        if args + kwds + (kwds != 0) >= STACK_USE_GUIDELINE:
            return False
        if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            return False
        return True


def raw_span(node):
    """`node`'s position as the parse gives it."""
    return (node.lineno, node.end_lineno, node.col_offset, node.end_col_offset)


def module_imports(tree):
    """The names an import binds in the module's own scope (CPython's DEF_IMPORT there)."""
    names = set()
    pending = list(tree.body)
    while pending:
        n = pending.pop()
        if isinstance(n, (ast.Import, ast.ImportFrom)):
            for a in n.names:
                names.add(a.asname or a.name.split(".")[0])
        elif not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            pending.extend(ast.iter_child_nodes(n))
    return names


SOURCES = {}


def position(pos, by):
    """CPython's position for Cython's `pos` (a source descriptor, line, column), checked by a node
    of class `by`, or None."""
    desc, line, col = pos
    name = getattr(desc, "filename", None)
    if not isinstance(name, str) or not name.endswith(".py") or by in MACHINERY:
        return None
    if name not in SOURCES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the parse's SyntaxWarnings are Cython's to give
                SOURCES[name] = Source(name)
        except Exception:
            SOURCES[name] = None
    source = SOURCES[name]
    return source.position(line, col, by) if source is not None else None


def with_position(pos, text):
    """`text`, Cython's `__PYX_...(file, line...)`, with CPython's line and the position comment.
    Whatever goes wrong in finding the position leaves `text` as Cython wrote it."""
    try:
        at = position(pos, checker()) if pos is not None else None
    except Exception:
        at = None
    if at is None:
        return text
    prefix, _, rest = text.partition(", %s" % pos[1])
    return "%s, %d%s/*pyelf-at %s*/" % (prefix, at[0], rest, " ".join(map(str, at[1:])))


def checker():
    """The class name of the Cython node whose code asks for the error position."""
    frame = sys._getframe(3)
    for _ in range(8):
        if frame is None:
            break
        node = frame.f_locals.get("self")
        if node is not None and not isinstance(node, Code.CCodeWriter):
            return type(node).__name__
        frame = frame.f_back
    return None


_error_goto = Code.CCodeWriter.error_goto
_set_error_info = Code.CCodeWriter.set_error_info


def error_goto(self, pos, used=True):
    return with_position(pos, _error_goto(self, pos, used))


def set_error_info(self, pos, used=False):
    return with_position(pos, _set_error_info(self, pos, used))


Code.CCodeWriter.error_goto = error_goto
Code.CCodeWriter.set_error_info = set_error_info

# An `except` clause left by `return`, `break` or `continue` releases the exception it caught with
# a NULL check: a bare `raise` in a `try` inside the clause hands that exception on and clears the
# clause's variables, so `except E: try: raise; except E: return 1` crashed (SIGSEGV) where Cython
# released them unchecked. Its own "FIXME" says the same of the clause's normal end, which checks.
# A `return` releases every temporary holding a reference (the clause's variables among them), a
# `break` or `continue` the clause's variables where it intercepts the jump.
from Cython.Compiler import Nodes


@contextlib.contextmanager
def shadowing(obj, name, value):
    """`obj.name` is `value` (an attribute of the instance, over its class's and over one the
    instance had) while the block runs."""
    had = name in obj.__dict__
    before = obj.__dict__.get(name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        if had:
            setattr(obj, name, before)
        else:
            delattr(obj, name)


_return_code = Nodes.ReturnStatNode.generate_execution_code


def return_code(self, code, *args, **kwargs):
    # Only the temporaries the return releases (not those of the value it computes, on the path
    # every call takes).
    funcstate = code.funcstate
    held = set()

    def temps_holding_reference():
        temps = type(funcstate).temps_holding_reference(funcstate)
        held.update(name for name, _ in temps)
        return temps

    def put_decref_clear(cname, *a, **k):
        if cname in held:
            return code.put_xdecref_clear(cname, *a, **k)
        return type(code).put_decref_clear(code, cname, *a, **k)

    with shadowing(funcstate, "temps_holding_reference", temps_holding_reference):
        with shadowing(code, "put_decref_clear", put_decref_clear):
            return _return_code(self, code, *args, **kwargs)


Nodes.ReturnStatNode.generate_execution_code = return_code

_generate_handling_code = Nodes.ExceptClauseNode.generate_handling_code


def generate_handling_code(self, code, *args, **kwargs):
    def label_interceptor(*a, **k):
        for item in Code.CCodeWriter.label_interceptor(code, *a, **k):
            with shadowing(code, "put_decref_clear", code.put_xdecref_clear):
                yield item

    with shadowing(code, "label_interceptor", label_interceptor):
        return _generate_handling_code(self, code, *args, **kwargs)


Nodes.ExceptClauseNode.generate_handling_code = generate_handling_code

if "annotation_typing=False" in sys.argv:
    # Code written for Python: a one-character string literal compared with a C integer (an
    # `ord()` result, an int literal) is a comparison of Python objects, as in python
    # (`ord(c) == "A"` is False, `1 < "a"` a TypeError); Cython compared the character's code in C.
    # A Py_UCS4 (a character of a str Cython iterates) still compares in C with a str literal, as it
    # is a str; with a bytes literal it is an object (python: `"a" == b"a"` is False). So is a
    # number or a character tested for membership in bytes, which Cython cut to a C char
    # (`353 in b"abc"` was True; python raises ValueError).
    from Cython.Compiler import ExprNodes
    from Cython.Compiler.Code import UtilityCode

    _find_common_int_type = ExprNodes.CmpNode.find_common_int_type

    def find_common_int_type(self, env, op, operand1, operand2):
        for number, text in ((operand1, operand2), (operand2, operand1)):
            if number.type.is_int and text.is_string_literal:
                if not number.type.is_unicode_char or not isinstance(text, ExprNodes.UnicodeNode):
                    return None
        return _find_common_int_type(self, env, op, operand1, operand2)

    ExprNodes.CmpNode.find_common_int_type = find_common_int_type

    _find_special_bool_compare_function = ExprNodes.CmpNode.find_special_bool_compare_function

    def find_special_bool_compare_function(self, env, operand1, result_is_bool=False):
        contained = self.operand2.type
        if (
            self.operator in ("in", "not_in")
            and (contained.is_string or contained.is_pybytes_type or contained.is_pybytearray_type)
            and (operand1.type.is_int or operand1.is_string_literal)
        ):
            # Cython's own generic membership test, on objects.
            if not contained.is_pyobject:
                self.operand2 = self.operand2.coerce_to_pyobject(env)
            self.operand2 = self.operand2.as_none_safe_node("argument of type 'NoneType' is not iterable")
            self.special_bool_cmp_utility_code = UtilityCode.load_cached("PySequenceContains", "ObjectHandling.c")
            self.special_bool_cmp_function = "__Pyx_PySequence_ContainsTF"
            return True, operand1.coerce_to_pyobject(env)
        return _find_special_bool_compare_function(self, env, operand1, result_is_bool)

    ExprNodes.CmpNode.find_special_bool_compare_function = find_special_bool_compare_function

    # `x in [a, b]`, `x not in (a, b)` and `x in {a, b}` test the list, tuple or set python builds,
    # as python does: each item compared by identity first, then by `item == x` (`nan in [nan]` is
    # True), and a set's items by hash (an unhashable `x` raises TypeError). Cython made them `x ==
    # a or x == b`, which skips all three.
    from Cython.Compiler import Optimize

    def visit_PrimaryCmpNode(self, node):
        self.visitchildren(node)
        return node

    Optimize.FlattenInListTransform.visit_PrimaryCmpNode = visit_PrimaryCmpNode

    # A function's `locals()` holds its own names and those of its closure, not the names it
    # declares `global`: Cython's scope holds those as the module's own entries.
    _locals_init = ExprNodes.FuncLocalsExprNode.__init__

    def locals_init(self, pos, env):
        env.__dict__.setdefault("pyelf_locals", []).append(self)
        module = env.global_scope()
        entries = dict(env.entries)
        for name, entry in entries.items():
            if entry.scope is module and module is not env:
                del env.entries[name]
        try:
            _locals_init(self, pos, env)
        finally:
            env.entries.clear()
            env.entries.update(entries)

    ExprNodes.FuncLocalsExprNode.__init__ = locals_init

    # Nor a name not yet assigned where `locals()` is called: Cython left out an unbound Python
    # object when it ran, but a C variable (an int it typed `long`) has no unbound state. Its flow
    # analysis tells which are not assigned there on any path.
    _locals_types = ExprNodes.FuncLocalsExprNode.analyse_types

    def locals_types(self, env):
        def unassigned(item):
            # (Not one an inner function may assign: `nonlocal x; x = 5`.)
            entry = env.lookup_here(item.value.name)
            return getattr(item.value, "cf_is_null", False) and not (entry is not None and entry.in_closure)

        self.key_value_pairs = [i for i in self.key_value_pairs if not unassigned(i)]
        return _locals_types(self, env)

    ExprNodes.FuncLocalsExprNode.analyse_types = locals_types

    # A name `locals()` may find unassigned (assigned on some paths only, a loop's later turns)
    # is a Python object, which can be: as a C variable it was always there.
    from Cython.Compiler import Builtin, PyrexTypes, TypeInference

    _infer_types = TypeInference.SimpleAssignmentTypeInferer.infer_types

    def infer_types(self, scope):
        for node in scope.__dict__.get("pyelf_locals", ()):
            for item in node.key_value_pairs:
                entry = scope.lookup_here(item.value.name) if getattr(item.value, "cf_maybe_null", False) else None
                if entry is not None and entry.type is PyrexTypes.unspecified_type:
                    self.set_entry_type(entry, PyrexTypes.py_object_type, scope)
        return _infer_types(self, scope)

    TypeInference.SimpleAssignmentTypeInferer.infer_types = infer_types

    # A comprehension in a class body does not see the class's names, as in python (only its first
    # iterable, which Cython reads in the class's scope, does): `x = 100; class K: x = 5; v = [x for
    # _ in "a"]` gives [100]. Cython looked the names up in the class (its "TODO: also ignore class
    # scopes?").
    from Cython.Compiler import Symtab

    _comprehension_lookup = Symtab.ComprehensionScope.lookup

    def comprehension_lookup(self, name):
        outer = self.outer_scope
        if outer is None or not outer.is_py_class_scope:
            return _comprehension_lookup(self, name)
        entry = self.lookup_here(name)
        if entry is not None:
            return entry
        while outer is not None and outer.is_py_class_scope:
            outer = outer.outer_scope
        if outer is None:
            return None
        return outer.lookup(self.mangle_class_private_name(name)) or outer.lookup(name) or None

    Symtab.ComprehensionScope.lookup = comprehension_lookup

    # A module-level comprehension's variable that a lambda or function made in it reads keeps its
    # last value once the comprehension is done, as python's cell does: `fs = [lambda: i for i in
    # range(3)]` gives 2 from each. Cython keeps such a variable in a C global, which it set to
    # None on leaving the comprehension (its other variables still are).
    _local_lookup = Symtab.LocalScope.lookup

    def local_lookup(self, name):
        entry = _local_lookup(self, name)
        if entry is not None and entry.scope is not self and entry.scope.is_comprehension_scope:
            entry.pyelf_captured = True
        return entry

    Symtab.LocalScope.lookup = local_lookup

    _generate_vars_cleanup = ExprNodes.ScopedExprNode._generate_vars_cleanup

    def generate_vars_cleanup(self, code, py_entries):
        kept = [e for e in py_entries if not (e.is_cglobal and getattr(e, "pyelf_captured", False))]
        return _generate_vars_cleanup(self, code, kept)

    ExprNodes.ScopedExprNode._generate_vars_cleanup = generate_vars_cleanup

    # `super()` in a list, set or dict comprehension in a method is the method's, as in python
    # 3.12+, which runs a comprehension in its function's frame: Cython left it a call of the
    # builtin with no arguments ("RuntimeError: super(): __class__ cell not found"). (A generator
    # expression is a function of its own in python too.)
    from Cython.Compiler import ParseTreeTransforms

    _inject_super = ParseTreeTransforms.TransformBuiltinMethods._inject_super

    def inject_super(self, node, func_name):
        comprehensions = []
        while len(self.env_stack) > 1 and self.env_stack[-1][1].is_comprehension_scope:
            comprehensions.append(self.env_stack.pop())
        try:
            return _inject_super(self, node, func_name)
        finally:
            self.env_stack.extend(reversed(comprehensions))

    ParseTreeTransforms.TransformBuiltinMethods._inject_super = inject_super

    # A function's annotations are evaluated where it is defined, as python 3.13 evaluates them
    # without `from __future__ import annotations`, and listed in its parameters' order (`*args`
    # before the keyword-only ones, with that import too): Cython kept each as the string of its
    # source, as that import does (`f.__annotations__` gave {'x': 'int'}).
    import copy
    from Cython.Compiler import Future
    from Cython.Compiler.StringEncoding import EncodedString

    _analyse_default_args = ExprNodes.PyCFunctionNode.analyse_default_args

    # What an annotation may hold that Cython cannot compile a second time (a lambda in
    # `Annotated[int, lambda v: v > 0]`, a comprehension, `*Ts`): such an annotation stays the
    # string Cython made.
    UNCOPIED = tuple(
        getattr(ExprNodes, name)
        for name in ("LambdaNode", "ScopedExprNode", "StarredUnpackingNode", "YieldExprNode", "AwaitExprNode",
                     "AssignmentExpressionNode")
        if hasattr(ExprNodes, name)
    )

    def child_nodes(node):
        """The nodes under `node` (its `child_attrs`, each a node, a list of them or None)."""
        for attr in node.child_attrs:
            child = getattr(node, attr, None)
            for c in child if isinstance(child, list) else [child]:
                if isinstance(c, Nodes.Node):
                    yield c

    def evaluable(expr):
        return not isinstance(expr, UNCOPIED) and all(evaluable(c) for c in child_nodes(expr))

    def annotation_value(annotation, strings=False):
        if strings or not evaluable(annotation.expr):
            return copy.deepcopy(annotation.string)
        return copy.deepcopy(annotation.expr)

    def analyse_default_args(self, env):
        _analyse_default_args(self, env)
        if self.annotations_dict is None:
            return
        # Under `from __future__ import annotations`, strings, as in python.
        strings = Future.annotations in env.context.future_directives
        node = self.def_node
        parameters = [a for a in node.args + [node.star_arg, node.starstar_arg] if a is not None and a.annotation]
        parameters.sort(key=lambda a: a.pos)
        annotated = [(a.pos, a.name, a.annotation) for a in parameters]
        if node.return_type_annotation:
            annotated.append((node.return_type_annotation.pos, EncodedString("return"), node.return_type_annotation))
        items = [
            ExprNodes.DictItemNode(
                pos,
                key=ExprNodes.IdentifierStringNode(pos, value=name),
                value=annotation_value(annotation, strings),
            )
            for pos, name, annotation in annotated
        ]
        self.annotations_dict = ExprNodes.DictNode(self.pos, key_value_pairs=items).analyse_types(env)

    ExprNodes.PyCFunctionNode.analyse_default_args = analyse_default_args

    # A class's `__annotations__` too (`a: int = 1` gives {'a': int}, a dataclass field's type
    # int), each stored by its statement, as python stores it, so one in a branch that does not
    # run (`if TYPE_CHECKING:`) is not evaluated: an empty dict first, then after each annotated
    # name `__annotations__["a"] = int`. Cython made a dict of strings first.
    def annotation_store(env, target):
        pos = target.pos
        store = Nodes.SingleAssignmentNode(
            pos,
            lhs=ExprNodes.IndexNode(
                pos,
                base=ExprNodes.NameNode(pos, name=EncodedString("__annotations__")),
                index=ExprNodes.IdentifierStringNode(pos, value=target.name),
            ),
            rhs=annotation_value(target.annotation),
        )
        store.analyse_declarations(env)
        return store

    def annotated_name(stat):
        # (A bare `name: type` is a PassStatNode by now, which keeps its expression.)
        target = stat.lhs if isinstance(stat, Nodes.SingleAssignmentNode) else getattr(stat, "expr", None)
        kinds = (Nodes.SingleAssignmentNode, Nodes.ExprStatNode, Nodes.PassStatNode)
        if isinstance(stat, kinds) and getattr(target, "is_name", False):
            return target if getattr(target, "annotation", None) is not None else None
        return None

    def store_annotations(node, env):
        if isinstance(node, (Nodes.FuncDefNode, Nodes.ClassDefNode, ExprNodes.ExprNode)):
            return
        if isinstance(node, Nodes.StatListNode):
            stats = []
            for stat in node.stats:
                store_annotations(stat, env)
                stats.append(stat)
                target = annotated_name(stat)
                if target is not None:
                    stats.append(annotation_store(env, target))
            node.stats = stats
            return
        for child in child_nodes(node):
            store_annotations(child, env)

    _class_annotations = ExprNodes.Py3ClassNode.analyse_annotations

    def class_annotations(self, env):
        _class_annotations(self, env)
        if Future.annotations in env.context.future_directives:
            return
        stats = self.class_def_node.body.stats
        first = stats[0] if stats else None
        lhs = getattr(first, "lhs", None)
        if not isinstance(getattr(first, "rhs", None), ExprNodes.DictNode) or getattr(lhs, "name", None) != "__annotations__":
            return
        first.rhs = ExprNodes.DictNode(first.rhs.pos, key_value_pairs=[])
        store_annotations(self.class_def_node.body, env)

    ExprNodes.Py3ClassNode.analyse_annotations = class_annotations

    # Unpacking fails with python 3.13's messages: "not enough values to unpack (expected 3, got
    # 1)" ("expected at least 2" with a starred target), "cannot unpack non-iterable int object"
    # (Cython: "need more than 1 value to unpack", "'int' object is not iterable").
    UNPACKING = Code.UtilityCode(
        name="PyelfUnpacking",
        proto="""
static void __pyelf_need_more_values(Py_ssize_t expected, int at_least, Py_ssize_t got);
static PyObject *__pyelf_unpack_iter(PyObject *o);
static PyObject *__pyelf_unpack_list(PyObject *o);
#define __pyelf_unpack_list_keep_new(o) \\
    ((PyList_CheckExact(o) && Py_REFCNT(o) == 1) ? __Pyx_NewRef(o) : __pyelf_unpack_list(o))
""",
        impl="""
static void __pyelf_need_more_values(Py_ssize_t expected, int at_least, Py_ssize_t got) {
    PyErr_Format(PyExc_ValueError, "not enough values to unpack (expected %s%zd, got %zd)",
                 at_least ? "at least " : "", expected, got);
}
/* `result` (an iterator or a list of `o`), or NULL with python's TypeError where `o` is no iterable */
static PyObject *__pyelf_unpacked(PyObject *o, PyObject *result) {
    if (result == NULL && PyErr_ExceptionMatches(PyExc_TypeError) && Py_TYPE(o)->tp_iter == NULL && !PySequence_Check(o))
        PyErr_Format(PyExc_TypeError, "cannot unpack non-iterable %.200s object", Py_TYPE(o)->tp_name);
    return result;
}
static PyObject *__pyelf_unpack_iter(PyObject *o) {
    return __pyelf_unpacked(o, PyObject_GetIter(o));
}
static PyObject *__pyelf_unpack_list(PyObject *o) {
    return __pyelf_unpacked(o, PySequence_List(o));
}
""",
    )

    _unpack = ExprNodes.SequenceNode.generate_assignment_code

    def generate_unpacking(self, rhs, code, *args, **kwargs):
        code.globalstate.use_utility_code(UNPACKING)
        starred = any(a.is_starred for a in self.args)
        expected = len(self.args) - starred
        putln = code.putln

        def put_python_line(text="", *a, **k):
            if isinstance(text, str):
                text = text.replace("__Pyx_RaiseNeedMoreValuesError(", "__pyelf_need_more_values(%d, %d, " % (expected, starred), 1)
                text = text.replace(" = PyObject_GetIter(", " = __pyelf_unpack_iter(", 1)
                text = text.replace(" = PySequence_List(", " = __pyelf_unpack_list(", 1)
                text = text.replace(" = __Pyx_PySequence_ListKeepNew(", " = __pyelf_unpack_list_keep_new(", 1)
            return putln(text, *a, **k)

        with shadowing(code, "putln", put_python_line):
            return _unpack(self, rhs, code, *args, **kwargs)

    ExprNodes.SequenceNode.generate_assignment_code = generate_unpacking

    # A bytes literal iterated into a Python variable gives ints, as in python: Cython made each
    # item a bytes object of length 1 (Python 2's iteration) unless it typed the variable as a C
    # integer. That loop now iterates the bytes object itself.
    _optimise_for_loop = Optimize.IterationTransform._optimise_for_loop

    def optimise_for_loop(self, node, iterable, reversed=False):
        if iterable.is_string_literal and iterable.type.is_pybytes_type and not node.target.type.is_int:
            return node
        return _optimise_for_loop(self, node, iterable, reversed)

    Optimize.IterationTransform._optimise_for_loop = optimise_for_loop

    # A variable given values of two of python's types is a Python object, as is a conditional
    # expression of two, and `min()` or `max()` of them: an int and a float (Cython typed `x = 0;
    # x = 1.5` a C double, so it printed 0.0, and `max(3, 2.0)` gave 3.0), a character of a str
    # (Py_UCS4, a str in python) and a C integer (`for c in b"ab"` then `for c in "xy"` gave 'a'
    # for the byte 97).
    def python_kind(t):
        if t.is_unicode_char:
            return "str"
        if t.is_float or t is Builtin.float_type:
            return "float"
        if t.is_int or t is Builtin.int_type:
            return "int"
        return None

    def of_two_kinds(type1, type2):
        kinds = {python_kind(type1), python_kind(type2)}
        return None not in kinds and len(kinds) == 2

    def python_spanning(spanning):
        def python_spanning_type(type1, type2):
            if of_two_kinds(type1, type2):
                return PyrexTypes.py_object_type
            return spanning(type1, type2)

        return python_spanning_type

    PyrexTypes.spanning_type = python_spanning(PyrexTypes.spanning_type)
    PyrexTypes.independent_spanning_type = python_spanning(PyrexTypes.independent_spanning_type)

    # An item of a list, tuple or set of one-byte bytes literals is a bytes object, as in python:
    # Cython typed it a C unsigned char, so `for c in (b"a", b"b")` gave 97 and 98.
    _infer_sequence_item_type = ExprNodes.infer_sequence_item_type

    def infer_sequence_item_type(env, seq_node, *args, **kwargs):
        item_type = _infer_sequence_item_type(env, seq_node, *args, **kwargs)
        if item_type is PyrexTypes.c_uchar_type and seq_node.is_sequence_or_set_constructor:
            return Builtin.bytes_type
        return item_type

    ExprNodes.infer_sequence_item_type = infer_sequence_item_type

sys.exit(setuptools_main())
