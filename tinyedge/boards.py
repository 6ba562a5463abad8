"""Boards: the data files in boards/, checked against a schema and loaded as frozen dataclasses.

A board file is TOML. The schema below says which fields exist, their types, which are
required and which values an enumerated field takes; a file that breaks it is one
TinyEdgeError naming the file and the field (and, for a bad value, the valid choices).
Adding a board is adding a file: `load_board(name)` finds boards/<name>.toml, or takes the
path of a .toml file elsewhere.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyedge.errors import TinyEdgeError
from tinyedge.resources import boards_dir

# Which firmware a core gets: the startup/runtime family, the FPUs it may have, the cycle
# counters its firmware can read. One table, so the three never disagree.
CORES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "cortex-m0plus": ("arm", ("none",), ("systick", "none")),
    "cortex-m4f": ("arm", ("fpv4-sp-d16",), ("dwt", "systick", "none")),
    "cortex-m7": ("arm", ("none", "fpv5-sp-d16", "fpv5-d16"), ("dwt", "systick", "none")),
    "cortex-m33": ("arm", ("none", "fpv5-sp-d16"), ("dwt", "systick", "none")),
    "rv32imc": ("riscv", ("none",), ("mcycle", "none")),
    "rv32imac": ("riscv", ("none",), ("mcycle", "none")),
    "xtensa-lx6": ("xtensa", ("none", "xtensa-sp"), ("ccount", "none")),
    "xtensa-lx7": ("xtensa", ("none", "xtensa-sp"), ("ccount", "none")),
    "host": ("host", ("native",), ("none",)),
}
# Cores with the Cortex-M DSP extension (SMLAD, SXTB16, SSAT...), which te_nn_dsp.h's
# __ARM_FEATURE_DSP paths use; the M33's is optional, and present on the boards here.
DSP_CORES = ("cortex-m4f", "cortex-m7", "cortex-m33")
FPUS = tuple(sorted({fpu for _, fpus, _ in CORES.values() for fpu in fpus}))
CYCLE_COUNTERS = tuple(sorted({c for _, _, counters in CORES.values() for c in counters}))
# Unicorn CPU models per built-in emulator architecture (the UC_CPU_<ARCH>_<MODEL> suffix).
EMULATOR_CPUS: dict[str, tuple[str, ...]] = {
    "arm": ("CORTEX_M0", "CORTEX_M3", "CORTEX_M4", "CORTEX_M7", "CORTEX_M33"),
    "riscv32": ("ANY", "BASE32", "SIFIVE_E31", "SIFIVE_U34"),
    "none": (),
}
MEMORY_KINDS = ("flash", "ram")
FLASH_TOOLS = ("pyocd", "uf2", "esptool")
# UART register layouts the standalone firmware has a driver for (firmware/runtime/te_uart_*.c,
# tinyedge/console.py).
UART_DRIVERS = ("nrf-uart", "stm32-usart-sr", "stm32-usart-isr", "stm32-lpuart", "pl011")
INIT_ACTIONS = ("value", "set", "clear", "wait")  # what one [[setup.init]] or [[console.init]] step does, see InitStep
L1_CACHE_CORES = ("cortex-m7",)  # cores whose L1 caches the start-up code can enable (setup.l1_caches)
CACHE_SERVES = ("instruction", "data", "both")  # which reads a [[cache]] sits in the path of
# What turns a [[cache]] on: nothing (always on, as a flash read buffer), [setup] l1_caches, or a
# [[setup.init]] step that sets `enable_bits` in `enable_reg`. The model follows the firmware.
CACHE_ENABLES = ("always", "l1_caches", "register")
# Where the model's constant arrays (weights, layer parameters) go: flash, or RAM (copied there at start-up)
# when they fit beside data, bss and the stack; build.py links and records the choice.
MODEL_CONSTANTS = ("flash", "ram-when-fits")
BOOT_STAGES = ("rp2040-boot2",)  # boot stages tinyedge writes into the reserved boot bytes (tinyedge/boot2.py)
# MicroPython native architectures (`tinyedge micropython`, tinyedge/micropython/): the .mpy a board's firmware loads.
MICROPYTHON_ARCHS = ("x64", "armv6m", "armv7m", "armv7emsp", "armv7emdp", "rv32imc", "xtensawin")


@dataclass(frozen=True)
class Field:
    """One entry of the schema: a TOML value type, or a nested table (list of tables)."""

    kind: str  # "int", "number", "bool", "str", "strings", "table", "tables"
    required: bool = True
    choices: tuple[str, ...] = ()
    schema: Mapping[str, Field] | None = None


def _table(schema: Mapping[str, Field], required: bool = True) -> Field:
    return Field("table", required, schema=schema)


_FIGURE_SOURCE = Field("str")
_INIT_STEPS = Field("tables", schema={
    "reg": Field("int"),
    "value": Field("int", required=False),
    "set": Field("int", required=False),
    "clear": Field("int", required=False),
    "wait": Field("int", required=False),
    "equals": Field("int", required=False),
    "note": Field("str"),
})
SCHEMA: dict[str, Field] = {
    "name": Field("str"),
    "vendor": Field("str"),
    "description": Field("str"),
    "core": Field("str", choices=tuple(CORES)),
    "fpu": Field("str", choices=FPUS),
    "clock_hz": Field("int"),
    "cycle_counter": Field("str", choices=CYCLE_COUNTERS),
    "micropython_arch": Field("str", required=False, choices=MICROPYTHON_ARCHS),
    "memory": Field("tables", schema={
        "name": Field("str"),
        "origin": Field("int"),
        "length": Field("int"),
        "kind": Field("str", choices=MEMORY_KINDS),
        "alias_of": Field("str", required=False),
    }),
    "layout": _table({
        "code": Field("str"),
        "data": Field("str"),
        "boot_bytes": Field("int", required=False),
        "boot_stage": Field("str", required=False, choices=BOOT_STAGES),
        "model_constants": Field("str", required=False, choices=MODEL_CONSTANTS),
    }),
    "flash_access": _table({
        "wait_states": Field("int"),
        "icache_bytes": Field("int", required=False),
        "dcache_bytes": Field("int", required=False),
        "accelerator": Field("str"),
        "source": Field("str"),
    }),
    "cache": Field("tables", required=False, schema={
        "name": Field("str"),
        "memory": Field("str"),
        "serves": Field("str", choices=CACHE_SERVES),
        "size_bytes": Field("int"),
        "line_bytes": Field("int"),
        "ways": Field("int"),
        "miss_cycles": Field("int"),
        "enabled_by": Field("str", choices=CACHE_ENABLES),
        "enable_reg": Field("int", required=False),
        "enable_bits": Field("int", required=False),
        "source": Field("str"),
    }),
    "power": _table({
        "supply": _table({"voltage_v": Field("number"), "source": _FIGURE_SOURCE}),
        "active": _table({"current_ma": Field("number"), "condition": Field("str"), "source": _FIGURE_SOURCE}),
        "sleep": _table({"current_ua": Field("number"), "condition": Field("str"), "source": _FIGURE_SOURCE}),
    }),
    "compiler": _table({
        "toolchain": Field("str"),
        "cflags": Field("strings"),
        "install": Field("str"),
    }),
    "emulator": _table({
        "builtin": Field("str", choices=tuple(EMULATOR_CPUS)),
        "cpu_model": Field("str", required=False),
        "renode_platform": Field("str", required=False),
        "renode_board": Field("str", required=False),
        "renode_unsupported": Field("str", required=False),
        "note": Field("str", required=False),
    }),
    "flashing": _table({
        "tool": Field("str", choices=FLASH_TOOLS),
        "pyocd_target": Field("str", required=False),
        "pyocd_pack": Field("str", required=False),
        "esptool_chip": Field("str", required=False),
        "uf2_family_id": Field("int", required=False),
        "note": Field("str", required=False),
    }),
    "console": _table({
        "uart": Field("str", choices=UART_DRIVERS),
        "base": Field("int"),
        "baud": Field("int"),
        "uart_clock_hz": Field("int"),
        "tx_pin": Field("str"),
        "rx_pin": Field("str"),
        "connection": Field("str"),
        "source": Field("str"),
        "init": _INIT_STEPS,
    }, required=False),
    "setup": _table({
        "clock": Field("str"),
        "l1_caches": Field("bool", required=False),
        "source": Field("str"),
        "init": Field("tables", required=False, schema=_INIT_STEPS.schema),
    }, required=False),
}
# The host board runs on the development machine: it has no memory map, clock or power data.
HOST_OPTIONAL = frozenset({"clock_hz", "memory", "layout", "flash_access", "power", "emulator", "flashing",
                           "console", "setup"})


@dataclass(frozen=True)
class MemoryRegion:
    name: str
    origin: int
    length: int
    kind: str  # "flash" or "ram"
    alias_of: str | None = None  # another view of the same physical memory

    @property
    def end(self) -> int:
        return self.origin + self.length

    def contains(self, address: int, size: int = 0) -> bool:
        return self.origin <= address and address + size <= self.end


@dataclass(frozen=True)
class Layout:
    """Where the bare-metal image goes: code, constants and the .data image in `code`;
    .data, .bss and the stack (at the top) in `data`. `boot_bytes` at the start of the code
    region are kept for a boot stage (RP2040's boot2); the vector table follows them."""

    code: str
    data: str
    boot_bytes: int = 0
    boot_stage: str | None = None  # what tinyedge writes into the boot bytes (one of BOOT_STAGES)
    model_constants: str = "flash"  # one of MODEL_CONSTANTS


@dataclass(frozen=True)
class FlashAccess:
    wait_states: int
    accelerator: str
    source: str
    icache_bytes: int | None = None
    dcache_bytes: int | None = None


@dataclass(frozen=True)
class Cache:
    """A cache, accelerator or flash read buffer (one line) in front of a memory, as the cycle
    model's memory system simulates it (tinyedge/simulate/memory_model.py)."""

    name: str
    memory: str  # the [[memory]] it sits in front of (its aliases share it)
    serves: str  # "instruction", "data" or "both"
    size_bytes: int
    line_bytes: int
    ways: int  # 0: fully associative
    miss_cycles: int  # stall for bringing one line in
    enabled_by: str  # one of CACHE_ENABLES
    source: str
    enable_reg: int | None = None  # enabled_by "register": the [[setup.init]] register and bits
    enable_bits: int | None = None


@dataclass(frozen=True)
class Figure:
    """A datasheet figure, the condition it was measured under, and where it comes from."""

    value: float
    unit: str
    condition: str
    source: str


@dataclass(frozen=True)
class Power:
    supply: Figure  # V
    active: Figure  # mA at the board's clock_hz and the supply voltage
    sleep: Figure  # uA


@dataclass(frozen=True)
class Compiler:
    toolchain: str  # prefix without the dash ("arm-none-eabi"); "" is the system compiler
    cflags: tuple[str, ...]  # cpu/arch flags, used for compiling and linking
    install: str  # the command (or instructions) that installs the toolchain


@dataclass(frozen=True)
class Emulator:
    builtin: str  # "arm", "riscv32" or "none"
    cpu_model: str | None = None
    renode_platform: str | None = None
    renode_board: str | None = None
    renode_unsupported: str | None = None  # why Renode 1.15 cannot run the board's firmware
    note: str | None = None


@dataclass(frozen=True)
class Flashing:
    tool: str
    pyocd_target: str | None = None
    pyocd_pack: str | None = None
    esptool_chip: str | None = None
    uf2_family_id: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class InitStep:
    """One register access of the standalone firmware's board set-up, done in file order.

    `value`: write it. `set`/`clear`: read, clear then set those bits, write back. `wait`: read
    until the bits of the mask equal `equals` (all of them set when `equals` is not given)."""

    reg: int
    note: str
    value: int | None = None
    set: int = 0
    clear: int = 0
    wait: int | None = None
    equals: int | None = None

    @property
    def action(self) -> str:
        return "wait" if self.wait is not None else "write" if self.value is not None else "modify"

    @property
    def wait_value(self) -> int:
        assert self.wait is not None
        return self.wait if self.equals is None else self.equals


@dataclass(frozen=True)
class Console:
    """The UART the standalone firmware prints its result lines on, and the set-up it needs."""

    uart: str  # driver: one of UART_DRIVERS
    base: int  # the UART's register block
    baud: int
    uart_clock_hz: int  # the clock feeding the UART once [setup] and `init` have run (sets the baud divisor)
    tx_pin: str
    rx_pin: str
    connection: str  # how the UART reaches the development machine
    source: str  # where the addresses and pins come from
    init: tuple[InitStep, ...]  # resets, peripheral clocks and pin functions, before the UART is enabled


@dataclass(frozen=True)
class Setup:
    """What every firmware variant's start-up code does before main, so that the chip runs as the cost
    model assumes: the core clock (board.clock_hz), flash wait states and accelerators, caches."""

    clock: str  # how the core reaches board.clock_hz (the report names it)
    source: str  # where the register facts come from
    init: tuple[InitStep, ...] = ()  # register steps, in order (clocks, flash, caches); waits are bounded
    l1_caches: bool = False  # enable the core's L1 instruction and data caches (Cortex-M7, SCB)


@dataclass(frozen=True)
class Board:
    name: str
    vendor: str
    description: str
    core: str
    fpu: str
    cycle_counter: str
    compiler: Compiler
    path: Path
    clock_hz: int | None = None
    memories: tuple[MemoryRegion, ...] = ()  # every region of the memory map ([[memory]] in the file)
    layout: Layout | None = None
    flash_access: FlashAccess | None = None
    power: Power | None = None
    emulator: Emulator | None = None
    flashing: Flashing | None = None
    console: Console | None = None  # no UART: the firmware prints through semihosting only
    setup: Setup | None = None  # None: the firmware leaves clocks and caches at their reset state
    micropython_arch: str | None = None  # the native .mpy architecture of the board's MicroPython port
    caches: tuple[Cache, ...] = ()  # [[cache]]: the memory system the cycle model simulates

    @property
    def family(self) -> str:
        """Firmware family: "arm", "riscv", "xtensa" or "host"."""
        return CORES[self.core][0]

    @property
    def is_host(self) -> bool:
        return self.family == "host"

    @property
    def dsp_extension(self) -> bool:
        """Whether the kernels take the Cortex-M DSP paths here (what compile_graph lowers for)."""
        return self.core in DSP_CORES

    @property
    def emulated(self) -> bool:
        """Whether the built-in emulator runs this board's firmware (Cortex-M and RISC-V, not Xtensa or host)."""
        return not self.is_host and self.emulator is not None and self.emulator.builtin != "none"

    @property
    def has_fpu(self) -> bool:
        return self.fpu not in ("none", "native")

    def region(self, name: str) -> MemoryRegion:
        for region in self.memories:
            if region.name == name:
                return region
        raise KeyError(name)

    @property
    def fetch_wait_states(self) -> int:
        """Wait states an instruction fetch from flash costs, as the cycle model charges them.

        A board with [[cache]] tables has its fetches costed by the memory model instead: 0.
        Behind an instruction cache (ART, ICACHE, XIP cache) the kernels' inner loops, a few
        hundred bytes, hit after their first pass: 0. Without one, the flash's wait states.
        """
        if self.caches or self.flash_access is None or self.flash_access.icache_bytes:
            return 0
        return self.flash_access.wait_states

    def cache_enabled(self, cache: Cache) -> bool:
        """Whether the flashed firmware has `cache` on: what its start-up code ([setup]) does."""
        setup = self.setup
        if cache.enabled_by == "always":
            return True
        if setup is None:
            return False
        if cache.enabled_by == "l1_caches":
            return bool(setup.l1_caches)
        bits = cache.enable_bits or 0
        on = False
        for step in setup.init:
            if step.reg != cache.enable_reg or step.wait is not None:
                continue
            on = (step.value & bits == bits) if step.value is not None else \
                (step.set & bits == bits) or (on and not step.clear & bits)
        return on

    @property
    def code_region(self) -> MemoryRegion:
        return self.region(self._layout().code)

    @property
    def data_region(self) -> MemoryRegion:
        return self.region(self._layout().data)

    @property
    def code_start(self) -> int:
        """Address of the first instruction fetch target: the vector table (Arm) or _start (RISC-V)."""
        return self.code_region.origin + self._layout().boot_bytes

    @property
    def stack_top(self) -> int:
        return self.data_region.end

    def _layout(self) -> Layout:
        if self.layout is None:
            raise TinyEdgeError(f"board '{self.name}' has no memory layout (it is the development machine)")
        return self.layout


def list_boards() -> list[str]:
    """Names of the boards shipped with tinyedge, sorted."""
    return sorted(path.stem for path in boards_dir().glob("*.toml"))


def load_board(name: str | Path) -> Board:
    """The board called `name` (boards/<name>.toml), or the board file at a .toml path."""
    path = Path(name)
    if path.suffix != ".toml":
        path = boards_dir() / f"{name}.toml"
        if not path.is_file():
            raise TinyEdgeError(f"unknown board '{name}'; valid boards: {', '.join(list_boards())}")
    elif not path.is_file():
        raise TinyEdgeError(f"board file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise TinyEdgeError(f"{path}: not valid TOML: {exc}") from None
    return _board_from_data(data, path)


class _Checker:
    """Schema checks that report the file and the dotted field name."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, field: str, message: str) -> TinyEdgeError:
        return TinyEdgeError(f"{self.path}: field '{field}' {message}")

    def table(self, data: Mapping[str, Any], schema: Mapping[str, Field], prefix: str,
              optional: frozenset[str] = frozenset()) -> None:
        for key in data:
            if key not in schema:
                where = f"in '{prefix[:-1]}'" if prefix else "at the top level"
                raise TinyEdgeError(f"{self.path}: unknown field '{prefix}{key}'; valid fields {where}: "
                                    f"{', '.join(schema)}")
        for key, field in schema.items():
            if key in data:
                self.value(data[key], field, prefix + key)
            elif field.required and key not in optional:
                raise TinyEdgeError(f"{self.path}: missing required field '{prefix}{key}'")

    def value(self, value: Any, field: Field, name: str) -> None:
        kind = field.kind
        if kind == "int" and (not isinstance(value, int) or isinstance(value, bool)):
            raise self.fail(name, f"must be an integer, got {value!r}")
        if kind == "number" and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise self.fail(name, f"must be a number, got {value!r}")
        if kind in ("int", "number") and value < 0:
            raise self.fail(name, f"must not be negative, got {value!r}")
        if kind == "bool" and not isinstance(value, bool):
            raise self.fail(name, f"must be true or false, got {value!r}")
        if kind == "str" and not isinstance(value, str):
            raise self.fail(name, f"must be a string, got {value!r}")
        if kind == "strings" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise self.fail(name, f"must be a list of strings, got {value!r}")
        if field.choices and value not in field.choices:
            raise self.fail(name, f"is '{value}'; valid choices: {', '.join(field.choices)}")
        if kind == "table":
            if not isinstance(value, dict):
                raise self.fail(name, f"must be a table, got {value!r}")
            assert field.schema is not None
            self.table(value, field.schema, name + ".")
        if kind == "tables":
            if not (isinstance(value, list) and value and all(isinstance(v, dict) for v in value)):
                raise self.fail(name, "must be a non-empty array of tables ([[" + name + "]])")
            assert field.schema is not None
            for index, item in enumerate(value):
                self.table(item, field.schema, f"{name}[{index}].")


def _board_from_data(data: dict[str, Any], path: Path) -> Board:
    check = _Checker(path)
    is_host = data.get("core") == "host"
    check.table(data, SCHEMA, "", HOST_OPTIONAL if is_host else frozenset())
    if data["name"] != path.stem:
        raise check.fail("name", f"is '{data['name']}' but the file is {path.name}; they must match")
    family, fpus, counters = CORES[data["core"]]
    if data["fpu"] not in fpus:
        raise check.fail("fpu", f"is '{data['fpu']}', which core {data['core']} does not have; "
                                f"valid choices: {', '.join(fpus)}")
    if data["cycle_counter"] not in counters:
        raise check.fail("cycle_counter", f"is '{data['cycle_counter']}', which core {data['core']} does not "
                                          f"have; valid choices: {', '.join(counters)}")

    memory = tuple(MemoryRegion(**region) for region in data.get("memory", ()))
    layout = Layout(**data["layout"]) if "layout" in data else None
    _check_memory(check, memory, layout)
    emulator = Emulator(**data["emulator"]) if "emulator" in data else None
    if emulator is not None:
        models = EMULATOR_CPUS[emulator.builtin]
        if emulator.cpu_model is None and models:
            raise TinyEdgeError(f"{path}: missing required field 'emulator.cpu_model' (builtin "
                                f"'{emulator.builtin}'); valid choices: {', '.join(models)}")
        if emulator.cpu_model is not None and emulator.cpu_model not in models:
            raise check.fail("emulator.cpu_model", f"is '{emulator.cpu_model}'; valid choices for "
                                                   f"'{emulator.builtin}': {', '.join(models)}")
    power = None
    if "power" in data:
        p = data["power"]
        power = Power(supply=Figure(float(p["supply"]["voltage_v"]), "V", "supply voltage", p["supply"]["source"]),
                      active=Figure(float(p["active"]["current_ma"]), "mA", p["active"]["condition"],
                                    p["active"]["source"]),
                      sleep=Figure(float(p["sleep"]["current_ua"]), "uA", p["sleep"]["condition"],
                                   p["sleep"]["source"]))
    compiler = data["compiler"]
    return Board(
        name=data["name"], vendor=data["vendor"], description=data["description"], core=data["core"],
        fpu=data["fpu"], cycle_counter=data["cycle_counter"], path=path, clock_hz=data.get("clock_hz"),
        compiler=Compiler(compiler["toolchain"], tuple(compiler["cflags"]), compiler["install"]),
        memories=memory, layout=layout, power=power, emulator=emulator,
        flash_access=FlashAccess(**data["flash_access"]) if "flash_access" in data else None,
        flashing=Flashing(**data["flashing"]) if "flashing" in data else None,
        console=_console(check, data["console"]) if "console" in data else None,
        micropython_arch=data.get("micropython_arch"),
        setup=_setup(check, data["setup"], data["core"]) if "setup" in data else None,
        caches=_caches(check, data.get("cache", ()), memory),
    )


def _caches(check: _Checker, data: list[dict[str, Any]], memory: tuple[MemoryRegion, ...]) -> tuple[Cache, ...]:
    names = [region.name for region in memory]
    caches = []
    for index, row in enumerate(data):
        cache = Cache(**row)
        if cache.memory not in names:
            raise check.fail(f"cache[{index}].memory", f"is '{cache.memory}'; valid choices: {', '.join(names)}")
        if (cache.enabled_by == "register") != (cache.enable_reg is not None and cache.enable_bits is not None):
            raise check.fail(f"cache[{index}].enabled_by", "'register' and enable_reg + enable_bits go together")
        lines = cache.size_bytes // cache.line_bytes if cache.line_bytes else 0
        sets = lines // cache.ways if cache.ways else 1
        if (not lines or lines * cache.line_bytes != cache.size_bytes or cache.line_bytes & (cache.line_bytes - 1)
                or cache.ways and (lines % cache.ways or sets & (sets - 1))):
            raise check.fail(f"cache[{index}]", f"'{cache.name}' ({cache.size_bytes} B, {cache.line_bytes} B lines, "
                                                f"{cache.ways} ways) needs a power-of-two line size and set count")
        caches.append(cache)
    return tuple(caches)


def _init_steps(check: _Checker, data: list[dict[str, Any]], table: str) -> tuple[InitStep, ...]:
    steps = []
    for index, step in enumerate(data):
        actions = [key for key in INIT_ACTIONS if key in step]
        if not actions or "value" in actions and len(actions) > 1 or "wait" in actions and len(actions) > 1:
            raise check.fail(f"{table}.init[{index}]", f"has {', '.join(actions) or 'no action'}; give `value`, "
                                                       "or `set` and/or `clear`, or `wait` (with `equals`)")
        if "equals" in step and "wait" not in step:
            raise check.fail(f"{table}.init[{index}].equals", "is only meaningful with `wait`")
        if step["reg"] % 4 or step["reg"] >= 1 << 32:
            raise check.fail(f"{table}.init[{index}].reg", f"0x{step['reg']:x} is not a 32-bit register address")
        steps.append(InitStep(**step))
    return tuple(steps)


def _console(check: _Checker, data: dict[str, Any]) -> Console:
    return Console(**{**data, "init": _init_steps(check, data["init"], "console")})


def _setup(check: _Checker, data: dict[str, Any], core: str) -> Setup:
    if data.get("l1_caches") and core not in L1_CACHE_CORES:
        raise check.fail("setup.l1_caches", f"is set, but core {core} has no L1 caches the start-up code enables; "
                                            f"cores with them: {', '.join(L1_CACHE_CORES)}")
    return Setup(**{**data, "init": _init_steps(check, data.get("init", []), "setup")})


def _check_memory(check: _Checker, memory: tuple[MemoryRegion, ...], layout: Layout | None) -> None:
    names = [region.name for region in memory]
    for index, region in enumerate(memory):
        field = f"memory[{index}]"
        if names.count(region.name) > 1:
            raise check.fail(f"{field}.name", f"'{region.name}' names two regions")
        if region.length == 0 or region.end > 1 << 32:
            raise check.fail(f"{field}.length", f"0x{region.length:x} at 0x{region.origin:x} is outside the "
                                                "32-bit address space or empty")
        if region.alias_of is not None and region.alias_of not in names:
            raise check.fail(f"{field}.alias_of", f"is '{region.alias_of}'; valid choices: {', '.join(names)}")
    if layout is None:
        return
    for role, kind in (("code", "flash"), ("data", "ram")):
        name = getattr(layout, role)
        if name not in names:
            raise check.fail(f"layout.{role}", f"is '{name}'; valid choices: {', '.join(names)}")
        if memory[names.index(name)].kind != kind:
            raise check.fail(f"layout.{role}", f"names region '{name}', which is not {kind}")
    code = memory[names.index(layout.code)]
    if bool(layout.boot_bytes) != (layout.boot_stage is not None):
        raise check.fail("layout.boot_stage", "and layout.boot_bytes go together: reserved boot bytes need the "
                                              f"stage that fills them; valid stages: {', '.join(BOOT_STAGES)}")
    if layout.boot_bytes >= code.length or layout.boot_bytes % 4:
        raise check.fail("layout.boot_bytes", f"is {layout.boot_bytes}; it must be a multiple of 4 and smaller "
                                              f"than region '{code.name}'")
