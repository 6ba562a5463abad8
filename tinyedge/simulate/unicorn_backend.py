"""Run a firmware ELF on the Unicorn CPU emulator and measure its inferences.

One `Emulation` is one run: the board's memories are mapped (flash read/execute only, RAM
read/write, and executable too where the ELF has code; on Cortex-M the Private Peripheral Bus
0xE0000000-0xE00FFFFF as plain RAM, so SCB/DWT writes land and DWT CYCCNT reads 0), the ELF's
sections are loaded at their load addresses, the RAM below the initial stack pointer is painted,
and the core starts from the vector table (Cortex-M: initial SP in word 0, reset handler in word
1) or the ELF entry (RV32).

Hooks, all cheap at run time:
  - the block counter (C, or Python fallback) on every block; with the board's memory model
    (memory_model.py) it also runs fetches through the caches, and each data read of the flash
    pages that hold only data: trapped (the pages remapped as MMIO, whose read callback sees each
    read; RAM reads keep Unicorn's fast path) or, once such reads are dense, planned (counter.c's
    file comment: the C counter works each block's read addresses out from the registers at its
    entry, and hooks the loads it cannot);
  - code hooks on the entries of te_inference_begin / te_inference_end and on the call sites in
    tinyedge_model_invoke (layer boundaries): they fire once per sample or layer and take
    counter snapshots;
  - semihosting: Thumb BKPT 0xAB through the interrupt hook, RISC-V `ebreak` sequences through
    code hooks on their addresses (Unicorn reports ebreak as an invalid instruction otherwise);
  - invalid memory accesses, CPU exceptions and the Cortex-M fault handlers end the run with a
    TinyEdgeError naming the PC, the fault and the function;
  - the TLB: Unicorn's virtual TLB mode with a fill hook that maps every page to itself, readable
    and writable, and executable only when the fill is for a fetch.

Stores: Unicorn 2.1 lets a store to RAM take TCG's inline path only once the page's TLB entry is
marked dirty, which it never does for a page whose entry is executable (Cortex-M's default memory
map makes SRAM executable, so with the CPU's own TLB every store took the store helper) or while
any memory hook covers the page. Hence the fill hook above (a page only read and written gets no
execute permission), RAM mapped executable only where the ELF has code, and the invalid-access
hook that names a fault's address installed only on a rerun after the fault. Measured on the
MLPerf-shaped models: 8-28% more MIPS (benchmarks/emulator_speed.py). Unicorn's own permission
checks (flash read-only, RAM without code not executable) still apply on its slow paths.

Translated code: each engine mmaps its own buffer for translated code, wherever the kernel puts
it, 1 GiB by default. On an x86-64 host TCG calls Unicorn's helpers (the block hook, SMLABB's
Q flag, the exit check) with a direct call when the buffer lies within 2 GiB of libunicorn, else
through a pointer loaded from memory. Whatever is mapped after libunicorn loads pushes new buffers
away from it: TensorFlow's libraries (0.75 GiB when TensorFlow is imported after tinyedge's
simulator), the buffers of earlier engines not yet collected. With pointer calls, measured on
`ic` for nrf52840 (memory model off), a run takes 25-30% longer (150-160 MIPS instead of 210-220)
at most of the offsets its C stack can have in a 4 KiB page, which address-space randomisation
picks per process and call depth shifts; with direct calls at none of them. The firmwares here
translate to under 2 MiB, so the buffer is TCG_BUFFER_BYTES (64 MiB): dozens of engines and
TensorFlow still fit within reach. A firmware that outgrew it would have its translations flushed
and redone, with the same counts.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import unicorn
from unicorn.arm_const import (
    UC_ARM_REG_LR,
    UC_ARM_REG_PC,
    UC_ARM_REG_R0,
    UC_ARM_REG_R1,
    UC_ARM_REG_SP,
    UC_ARM_REG_XPSR,
)
from unicorn.riscv_const import UC_RISCV_REG_A0, UC_RISCV_REG_A1, UC_RISCV_REG_PC, UC_RISCV_REG_SP

from tinyedge.errors import TinyEdgeError
from tinyedge.simulate import block_counter
from tinyedge.simulate.block_counter import BlockCounter, Snapshot, between
from tinyedge.simulate.cycle_model import BlockCosts, CycleModel
from tinyedge.simulate.firmware_image import (
    ARCH_ARM,
    BEGIN_SYMBOL,
    END_SYMBOL,
    INVOKE_SYMBOL,
    OUTPUT_SYMBOL,
    FirmwareImage,
)
from tinyedge.simulate.memory_model import data_pages
from tinyedge.simulate.peripherals import UartModel, setup_model
from tinyedge.simulate.semihosting import Semihost, SemihostingError
from tinyedge.simulate.target import FLASH, SimBoard, core_spec, cpu_model

DEFAULT_BUDGET = 2_000_000_000
TCG_BUFFER_BYTES = 64 << 20  # translated code per engine (module docstring); Unicorn's default is 1 GiB
STACK_PAINT = 0xA5

_PAGE = 0x1000
_PPB = (0xE0000000, 0x00100000)
_UNTIL = 0xFFFFFFF0  # never executed: the run ends through SYS_EXIT or a fault
_STACK_TOP_SYMBOLS = ("__stack_top", "_estack", "__StackTop", "_stack_top", "__stack", "_sp")
_ARM_FAULT_VECTORS = {2: "NMI", 3: "HardFault", 4: "MemManage", 5: "BusFault", 6: "UsageFault"}
_ARM_EXCEPTIONS = {  # QEMU's EXCP_* numbers, as Unicorn passes them to the interrupt hook
    1: "undefined instruction (UsageFault)",
    2: "SVC (supervisor call), which the emulator does not serve",
    3: "prefetch abort",
    4: "data abort",
    5: "interrupt request",
    7: "breakpoint (BKPT other than the semihosting 0xAB)",
    17: "FPU instruction with the FPU disabled (NOCP UsageFault): enable it in CPACR at startup",
    18: "invalid state (INVSTATE UsageFault: a branch to an address without the Thumb bit)",
    19: "stack limit overflow (STKOF)",
    21: "lazy FP state error",
    22: "unaligned access (UNALIGNED UsageFault)",
}
_RISCV_EXCEPTIONS = {
    0: "misaligned instruction fetch", 1: "instruction access fault", 2: "illegal instruction",
    3: "breakpoint (ebreak outside a semihosting sequence)", 4: "misaligned load", 5: "load access fault",
    6: "misaligned store", 7: "store access fault", 8: "ecall from U-mode", 11: "ecall from M-mode",
}
_UC_ERRORS = {
    unicorn.UC_ERR_INSN_INVALID: "invalid instruction",
    unicorn.UC_ERR_EXCEPTION: "unhandled CPU exception",
    unicorn.UC_ERR_READ_UNALIGNED: "unaligned read",
    unicorn.UC_ERR_WRITE_UNALIGNED: "unaligned write",
    unicorn.UC_ERR_FETCH_UNALIGNED: "unaligned instruction fetch",
}
_XPSR_IT_BITS = 0x0600FC00  # ICI/IT[1:0] in bits 26:25, IT[7:2] in 15:10
_DATA_PERMS = unicorn.UC_PROT_READ | unicorn.UC_PROT_WRITE
_FETCH_PERMS = unicorn.UC_PROT_ALL
_ACCESS_ERRORS = {  # what the invalid-access hook of a rerun explains (_memory_fault)
    unicorn.UC_ERR_READ_UNMAPPED, unicorn.UC_ERR_WRITE_UNMAPPED, unicorn.UC_ERR_FETCH_UNMAPPED,
    unicorn.UC_ERR_READ_PROT, unicorn.UC_ERR_WRITE_PROT, unicorn.UC_ERR_FETCH_PROT,
}
_MEMORY_FAULTS = {
    unicorn.UC_MEM_READ_UNMAPPED: "read from unmapped address",
    unicorn.UC_MEM_WRITE_UNMAPPED: "write to unmapped address",
    unicorn.UC_MEM_FETCH_UNMAPPED: "jump to unmapped address",
    unicorn.UC_MEM_WRITE_PROT: "write to read-only memory (flash) at",
    unicorn.UC_MEM_READ_PROT: "read from protected address",
    unicorn.UC_MEM_FETCH_PROT: "jump to non-executable address",
}


@dataclass(frozen=True)
class LayerStats:
    index: int  # position of the call site in tinyedge_model_invoke (= layer index)
    instructions: int
    cycles: float  # estimate, memory stalls included
    stall_cycles: float = 0.0  # of `cycles`: memory stalls (memory_model.py)


@dataclass(frozen=True)
class SampleStats:
    index: int
    instructions: int  # entering te_inference_begin -> entering te_inference_end
    cycles: float  # estimate, memory stalls included
    layers: tuple[LayerStats, ...]
    stall_cycles: float = 0.0  # of `cycles`: memory stalls


@dataclass(frozen=True)
class Measurements:
    samples: tuple[SampleStats, ...]
    outputs: tuple[bytes, ...]
    console: str
    total_instructions: int
    initial_sp: int
    lowest_sp: int
    counter: str
    run_started: float  # time.perf_counter() when emulation began
    run_seconds: float
    memory_reads: dict[str, int] = field(default_factory=dict)  # data reads per modelled flash region
    cache_misses: dict[str, tuple[int, int]] = field(default_factory=dict)  # per cache: look-ups, misses


@dataclass
class _OpenSample:
    begin: Snapshot
    marks: list[tuple[int, Snapshot]] = field(default_factory=list)


class _Memory:
    """Guest memory as the semihosting host sees it."""

    def __init__(self, uc: unicorn.Uc) -> None:
        self._uc = uc

    def read(self, address: int, size: int) -> bytes:
        try:
            return bytes(self._uc.mem_read(address, size))
        except unicorn.UcError as exc:
            raise SemihostingError(f"semihosting call passed an unreadable buffer "
                                   f"0x{address:08x}+{size}") from exc

    def write(self, address: int, data: bytes) -> None:
        try:
            self._uc.mem_write(address, data)
        except unicorn.UcError as exc:
            raise SemihostingError(f"semihosting call passed an unwritable buffer "
                                   f"0x{address:08x}+{len(data)}") from exc


class Emulation:
    """One run of one firmware on one board."""

    def __init__(self, image: FirmwareImage, board: SimBoard, input_data: bytes, model: CycleModel, *,
                 budget: int = DEFAULT_BUDGET, counter: str = "auto", uart: UartModel | None = None,
                 watch_accesses: bool = False, data_reads: str = "auto") -> None:
        spec = core_spec(board.core)
        if spec.arch != image.arch:
            raise TinyEdgeError(f"{image.path.name} is {image.arch} code but board {board.name} has a "
                                f"{board.core} core")
        self.image = image
        self.board = board
        self.model = model
        self._input_data = input_data
        self._budget = budget
        self._counter_kind = counter
        self._data_reads = data_reads
        self._watch_accesses = watch_accesses
        self._arm = image.arch == ARCH_ARM
        self._sp_reg = UC_ARM_REG_SP if self._arm else UC_RISCV_REG_SP
        self._pc_reg = UC_ARM_REG_PC if self._arm else UC_RISCV_REG_PC

        self.uc = unicorn.Uc(spec.uc_arch, spec.uc_mode)
        self.uc.ctl_set_tcg_buffer_size(TCG_BUFFER_BYTES)  # module docstring: translated code
        model_id = cpu_model(board, spec)
        if model_id is not None:
            self.uc.ctl_set_cpu_model(model_id)
        self.uc.ctl_set_tlb_mode(unicorn.UC_TLB_VIRTUAL)  # module docstring: stores
        self.uc.hook_add(unicorn.UC_HOOK_TLB_FILL, self._on_tlb_fill)
        self._host_memories: list[tuple[int, np.ndarray]] = []
        self._regions = self._map_memories()
        self.uart = uart
        self._output_buffer = self._output_symbol() if uart is not None else None
        setup = uart if uart is not None else setup_model(board)  # the UART model holds [setup]'s registers too
        if setup is not None:
            setup.install(self.uc, self._regions)
        self._load()
        self.initial_sp, self._start_pc = self._reset_state()
        if self.initial_sp is not None:
            self.uc.reg_write(self._sp_reg, self.initial_sp)
        self._painted = self._paint_stack() if self.initial_sp is not None else None
        self.lowest_sp = self.initial_sp if self.initial_sp is not None else 1 << 32

        self.counter: BlockCounter = block_counter.make_counter(counter, image.arch, budget,
                                                                memory=model.memory, data_reads=data_reads)
        self.counter.install(self.uc)
        self.counter.see_memory(self._host_memories)
        self._map_modelled_data()
        self.semihost = Semihost(input_data, self._clock_centiseconds, self._on_output)
        self._memory = _Memory(self.uc)
        self._fault: TinyEdgeError | None = None
        self._invalid_access: tuple[int, int, int] | None = None
        self._samples: list[SampleStats] = []
        self._outputs: list[bytearray] = []
        self._open: _OpenSample | None = None
        self._call_sites = image.call_sites(INVOKE_SYMBOL)
        self._costs = BlockCosts(np.zeros(0), np.zeros(0))
        self._watched_pc: int | None = None
        self._install_hooks()

    # -- setup --------------------------------------------------------------------------------

    def _map_memories(self) -> list[tuple[int, int, str]]:
        regions = []
        for memory in self.board.memories:
            start = memory.origin & ~(_PAGE - 1)
            end = (memory.origin + memory.length + _PAGE - 1) & ~(_PAGE - 1)
            regions.append((start, end, memory.kind))
        if self._arm and not any(s < _PPB[0] + _PPB[1] and _PPB[0] < e for s, e, _ in regions):
            regions.append((_PPB[0], _PPB[0] + _PPB[1], "peripheral"))
        regions.sort()
        merged: list[tuple[int, int, str]] = []
        for start, end, kind in regions:
            if merged and start < merged[-1][1]:
                previous = merged[-1]
                merged[-1] = (previous[0], max(previous[1], end), kind if kind != FLASH else previous[2])
            else:
                merged.append((start, end, kind))
        for start, end, kind in merged:
            if kind == FLASH:
                perms = unicorn.UC_PROT_READ | unicorn.UC_PROT_EXEC
            elif any(start < c.address + len(c.data) and c.address < end for c in self.image.code):
                perms = unicorn.UC_PROT_ALL  # the firmware runs code from this RAM
            else:
                # Not executable: Unicorn then lets stores to it take TCG's inline fast path
                # (module docstring); a jump here is a fault, as no code was loaded here.
                perms = unicorn.UC_PROT_READ | unicorn.UC_PROT_WRITE
            # Host arrays behind the guest's memories: planned data reads read loaded values from them.
            contents = np.zeros(end - start, np.uint8)
            self._host_memories.append((start, contents))
            self.uc.mem_map_ptr(start, end - start, perms, contents.ctypes.data)
        return merged

    def _map_modelled_data(self) -> None:
        """Remap the flash pages that hold only data (weights, tables) so that their reads go
        through the memory model (memory_model.py says why pages and not a hook)."""
        model = self.model.memory
        if model is None:
            return
        image = self.image
        objects = [(image.symbols[name], size) for name, size in image.object_sizes.items()
                   if size and name in image.symbols]
        code = [(f.address, f.size) for f in image.functions]
        for start, end in data_pages(model, objects, code, self.uc.ctl_get_page_size()):
            self.counter.map_data(self.uc, start, bytes(self.uc.mem_read(start, end - start)))

    def _output_symbol(self) -> tuple[int, int]:
        """Where the UART variant keeps its output (it has no output.bin): address and size."""
        address = self.image.require_symbol(OUTPUT_SYMBOL)
        size = self.image.object_sizes.get(OUTPUT_SYMBOL, 0)
        if not size:
            raise TinyEdgeError(f"{self.image.path.name}: {OUTPUT_SYMBOL} has no size in the symbol table")
        return address, size

    def _load(self) -> None:
        for chunk in self.image.chunks:
            end = chunk.address + len(chunk.data)
            if not any(m.origin <= chunk.address and end <= m.origin + m.length for m in self.board.memories):
                raise TinyEdgeError(
                    f"{self.image.path.name}: section {chunk.section} (0x{chunk.address:08x}-0x{end:08x}) "
                    f"lies outside the memories of board {self.board.name} "
                    f"({', '.join(f'{m.name} 0x{m.origin:08x}+0x{m.length:x}' for m in self.board.memories)})")
            self.uc.mem_write(chunk.address, chunk.data)

    def _word(self, address: int) -> int:
        return int.from_bytes(self.uc.mem_read(address, 4), "little")

    def _reset_state(self) -> tuple[int | None, int]:
        """Initial SP and PC. RV32 startup code sets SP itself: its top comes from a linker symbol."""
        if not self._arm:
            top = next((self.image.symbol(s) for s in _STACK_TOP_SYMBOLS if self.image.symbol(s)), None)
            return top, self.image.entry
        table, self._vector_words = self._vector_table()
        sp, reset = self._word(table), self._word(table + 4)
        if not any(kind != FLASH and s < sp <= e for s, e, kind in self._regions) or not reset & 1:
            raise TinyEdgeError(
                f"{self.image.path.name}: no Cortex-M vector table at 0x{table:08x} (initial SP 0x{sp:08x}, "
                f"reset vector 0x{reset:08x}); put it in a section named .vectors or .isr_vector")
        self._vectors = table
        return sp, reset

    def _vector_table(self) -> tuple[int, int]:
        """Address and length in words of the vector table: its section, else the start of flash."""
        for chunk in self.image.chunks:
            if chunk.section in (".vectors", ".isr_vector", ".vector_table"):
                return chunk.address, len(chunk.data) // 4
        flash = [s for s, _, kind in self._regions if kind == FLASH]
        if not flash:
            raise TinyEdgeError(f"board {self.board.name} has no flash memory to boot from")
        return min(flash), 16  # the architecture's 16 system exception vectors

    def _paint_stack(self) -> tuple[int, int] | None:
        """Fill the free RAM below the initial SP, to find the deepest stack write afterwards."""
        sp = self.initial_sp
        assert sp is not None
        region = next(((s, e) for s, e, kind in self._regions if kind != FLASH and s < sp <= e), None)
        if region is None:
            return None
        low = region[0]
        for address, size in self.image.allocated:
            if low <= address + size <= sp and region[0] <= address:
                low = max(low, address + size)
        if low >= sp:
            return None
        self.uc.mem_write(low, bytes([STACK_PAINT]) * (sp - low))
        return low, sp

    def _install_hooks(self) -> None:
        uc, image = self.uc, self.image
        uc.hook_add(unicorn.UC_HOOK_INTR, self._on_interrupt)
        if self._watch_accesses:  # a rerun after a memory fault (_memory_fault): any memory hook
            uc.hook_add(unicorn.UC_HOOK_MEM_INVALID, self._on_invalid_access)  # slows every store
        begin, end = image.require_symbol(BEGIN_SYMBOL), image.require_symbol(END_SYMBOL)
        if begin == end:
            raise TinyEdgeError(f"{image.path.name}: {BEGIN_SYMBOL} and {END_SYMBOL} share address 0x{begin:08x} "
                                "(identical code folded): give them __attribute__((noinline, noipa))")
        uc.hook_add(unicorn.UC_HOOK_CODE, self._on_begin, begin=begin, end=begin)
        uc.hook_add(unicorn.UC_HOOK_CODE, self._on_end, begin=end, end=end)
        for index, site in enumerate(self._call_sites):
            uc.hook_add(unicorn.UC_HOOK_CODE, self._on_call_site, user_data=index, begin=site, end=site)
        if self._arm:
            for handler, name in self._fault_handlers().items():
                uc.hook_add(unicorn.UC_HOOK_CODE, self._on_fault_handler, user_data=name,
                            begin=handler, end=handler)
        else:
            for site in image.semihosting_ebreaks():
                uc.hook_add(unicorn.UC_HOOK_CODE, self._on_riscv_semihosting, begin=site, end=site)

    def _fault_handlers(self) -> dict[int, str]:
        """Cortex-M fault handler address -> vector name, for the vectors the table holds that
        point (Thumb bit set) at the start of a function other than the reset handler."""
        starts = {f.address for f in self.image.functions}
        handlers: dict[int, str] = {}
        for vector, name in _ARM_FAULT_VECTORS.items():
            if vector >= self._vector_words:
                break
            value = self._word(self._vectors + 4 * vector)
            if value & 1 and (value & ~1) in starts and value != self._start_pc:
                handlers.setdefault(value & ~1, name)
        return handlers

    # -- hooks --------------------------------------------------------------------------------

    def _stop(self, fault: TinyEdgeError) -> None:
        if self._fault is None:
            self._fault = fault
        self.uc.emu_stop()

    def _track_sp(self) -> None:
        self.lowest_sp = min(self.lowest_sp, self.uc.reg_read(self._sp_reg))

    def _clock_centiseconds(self) -> int:
        return self.counter.total * 100 // max(self.board.clock_hz, 1)

    def _on_output(self, data: bytes) -> None:
        if not self._outputs:
            raise SemihostingError(f"the firmware wrote {len(data)} bytes to output.bin before its first "
                                   f"{BEGIN_SYMBOL}()")
        self._outputs[-1] += data

    def _semihost(self, op: int, param: int) -> int | None:
        self._track_sp()
        try:
            result = self.semihost.call(op, param, self._memory)
        except TinyEdgeError as exc:
            self._stop(TinyEdgeError(f"{exc} (at {self._where(self.uc.reg_read(self._pc_reg))})"))
            return None
        if self.semihost.exit is not None:
            self.uc.emu_stop()
        return result

    def _on_interrupt(self, uc: unicorn.Uc, intno: int, _user_data: object) -> None:
        pc = uc.reg_read(self._pc_reg)
        if not self._arm:
            self._stop(self._fault_error(pc, _RISCV_EXCEPTIONS.get(intno, f"CPU exception {intno}")))
            return
        if intno == 7 and int.from_bytes(uc.mem_read(pc, 2), "little") == 0xBEAB:  # BKPT 0xAB
            result = self._semihost(uc.reg_read(UC_ARM_REG_R0), uc.reg_read(UC_ARM_REG_R1))
            if result is not None:
                uc.reg_write(UC_ARM_REG_R0, result)
            uc.reg_write(UC_ARM_REG_PC, (pc + 2) | 1)
            return
        self._stop(self._fault_error(pc, _ARM_EXCEPTIONS.get(intno, f"CPU exception {intno}")))

    def _on_riscv_semihosting(self, uc: unicorn.Uc, address: int, _size: int, _user_data: object) -> None:
        result = self._semihost(uc.reg_read(UC_RISCV_REG_A0), uc.reg_read(UC_RISCV_REG_A1))
        if result is not None:
            uc.reg_write(UC_RISCV_REG_A0, result)
        uc.reg_write(UC_RISCV_REG_PC, address + 4)

    def _on_tlb_fill(self, uc: unicorn.Uc, address: int, access: int, entry: object, _user_data: object) -> bool:
        """Map the page to itself; executable only for a fetch, so data pages keep inline stores."""
        entry.paddr = address  # type: ignore[attr-defined]
        entry.perms = _FETCH_PERMS if access == unicorn.UC_MEM_FETCH else _DATA_PERMS  # type: ignore[attr-defined]
        return True

    def _on_invalid_access(self, uc: unicorn.Uc, access: int, address: int, size: int, _value: int,
                           _user_data: object) -> bool:
        self._invalid_access = (access, address, size)
        return False

    def _on_fault_handler(self, uc: unicorn.Uc, address: int, _size: int, name: object) -> None:
        lr = uc.reg_read(UC_ARM_REG_LR)
        if lr >= 0xFFFFFFE0:  # EXC_RETURN: an exception frame is stacked, its PC at SP+24
            origin = f"faulting PC {self._where(self._word(uc.reg_read(UC_ARM_REG_SP) + 24))}"
        else:
            origin = f"called from {self._where(lr & ~1)}"
        self._stop(TinyEdgeError(f"firmware fault: the {name} handler ({self._where(address)}) was "
                                 f"reached, {origin}"))

    def _on_watched(self, uc: unicorn.Uc, address: int, _size: int, _user_data: object) -> None:
        self._watched_pc = address

    def _on_begin(self, uc: unicorn.Uc, address: int, _size: int, _user_data: object) -> None:
        self._track_sp()
        if self._open is not None:
            self._stop(TinyEdgeError(f"{BEGIN_SYMBOL}() was entered twice without {END_SYMBOL}() "
                                     f"(sample {len(self._samples)})"))
            return
        self._open = _OpenSample(self.counter.snapshot(exclude_current=True, pc=address))
        self._outputs.append(bytearray())

    def _on_call_site(self, uc: unicorn.Uc, address: int, _size: int, index: object) -> None:
        self._track_sp()
        if self._open is not None:
            assert isinstance(index, int)
            self._open.marks.append((index, self.counter.snapshot(exclude_current=True, pc=address)))

    def _on_end(self, uc: unicorn.Uc, address: int, _size: int, _user_data: object) -> None:
        self._track_sp()
        if self._open is None:
            self._stop(TinyEdgeError(f"{END_SYMBOL}() was entered without {BEGIN_SYMBOL}() "
                                     f"(after sample {len(self._samples)})"))
            return
        end = self.counter.snapshot(exclude_current=True, pc=address)
        self._samples.append(self._measure(len(self._samples), self._open, end))
        self._open = None
        if self._output_buffer is not None:
            address, size = self._output_buffer
            self._outputs[-1] += uc.mem_read(address, size)

    # -- measuring ------------------------------------------------------------------------------

    def _measure(self, index: int, sample: _OpenSample, end: Snapshot) -> SampleStats:
        """Instructions and cycles of one inference, split at the layer call sites.

        Layer k runs from the block holding call site k to the block holding the next executed
        call site; what runs before the first call site (te_inference_begin, the call into the
        model) counts to the first layer, what runs after the last one to the last layer, so the
        layers add up to the sample.
        """
        costs = self._block_costs(len(end.counts))
        executed = between(sample.begin, end)
        layers: dict[int, tuple[int, float, int]] = {i: (0, 0.0, 0) for i in range(len(self._call_sites))}
        if sample.marks:
            edges = [sample.begin, *(snap for _, snap in sample.marks[1:]), end]
            for (layer, _), first, second in zip(sample.marks, edges[:-1], edges[1:], strict=True):
                part = between(first, second)
                instructions, cycles, stall = layers[layer]
                layers[layer] = (instructions + part.total, cycles + costs.cycles(part) + part.stall,
                                 stall + part.stall)
        return SampleStats(index, executed.total, costs.cycles(executed) + executed.stall,
                           tuple(LayerStats(i, n, c, float(st)) for i, (n, c, st) in sorted(layers.items())),
                           float(executed.stall))

    def _block_costs(self, n_blocks: int) -> BlockCosts:
        """Per-block costs, classifying only the blocks first executed since the last call."""
        known = len(self._costs.per_entry)
        if n_blocks > known:
            table = self.counter.blocks()
            fresh = block_counter.BlockTable(table.addresses[known:n_blocks], table.sizes[known:n_blocks],
                                             table.insns[known:n_blocks])
            added = self.model.block_costs(fresh, lambda a, s: bytes(self.uc.mem_read(a, s)))
            self._costs = BlockCosts(np.concatenate([self._costs.per_entry, added.per_entry]),
                                     np.concatenate([self._costs.per_taken_entry, added.per_taken_entry]))
        return self._costs

    # -- running --------------------------------------------------------------------------------

    def _emulate(self, pc: int) -> None:
        """Emulate from pc, resuming each time the counter stops to have load hooks installed or
        data reads planned (block_counter.STATUS_NEEDS_HOOKS, STATUS_SWITCH_TO_PLANS: the block it
        stopped at has not run yet)."""
        while True:
            self.uc.emu_start(pc, _UNTIL)
            if self.counter.status == block_counter.STATUS_NEEDS_HOOKS:
                self.counter.install_load_hooks(self.uc)
            elif self.counter.status == block_counter.STATUS_SWITCH_TO_PLANS:
                self.counter.switch_to_plans(self.uc)
            else:
                return
            pc = self.counter.stop_block
            if self._arm:
                self._clear_stale_it_state(pc)
                pc |= 1

    def _clear_stale_it_state(self, pc: int) -> None:
        """Before resuming at a block start pc: Unicorn leaves the IT bits of a conditional load's IT
        block in xPSR after it, and a resumed run looks its first block up with them (its first
        instructions then run as conditional). A block starts inside an IT block only where Unicorn
        split one at a page boundary, so anywhere else the bits are stale."""
        if pc % self.uc.ctl_get_page_size():
            xpsr = self.uc.reg_read(UC_ARM_REG_XPSR)
            if xpsr & _XPSR_IT_BITS:
                self.uc.reg_write(UC_ARM_REG_XPSR, xpsr & ~_XPSR_IT_BITS)

    def run(self) -> Measurements:
        started = time.perf_counter()
        error: unicorn.UcError | None = None
        try:
            self._emulate(self._start_pc)
        except unicorn.UcError as exc:
            error = exc
        if self.counter.status == block_counter.STATUS_PLAN_FAILED:
            # A block the load planner cannot describe: the same run with every data read trapped.
            return self._rerun(data_reads="trap").run()
        run_seconds = time.perf_counter() - started
        self._raise_if_failed(error)
        return Measurements(
            samples=tuple(self._samples),
            outputs=tuple(bytes(o) for o in self._outputs),
            console=self.semihost.console_text() + (self.uart.console if self.uart is not None else ""),
            total_instructions=self.counter.total,
            initial_sp=self._stack_top(),
            lowest_sp=min(self.lowest_sp, self._deepest_stack_write()),
            counter=self.counter.kind,
            run_started=started,
            run_seconds=run_seconds,
            memory_reads=self.counter.memory_reads(),
            cache_misses=self.counter.cache_misses(),
        )

    def access_of_fault(self) -> tuple[int, int, int] | None:
        """Run (with watch_accesses) to the memory fault: its access type, address and size."""
        try:
            self._emulate(self._start_pc)
        except unicorn.UcError:
            pass
        return self._invalid_access

    def pc_of_fault(self, instructions_before: int, block: tuple[int, int]) -> int | None:
        """Rerun up to the entry of the faulting block, then step through it watching each PC.

        Unicorn reports a data fault at the first PC of its block. The run is deterministic, so
        a second run stopped by the counter's budget just before that entry (the counter stops
        a block before executing it), then resumed with a code hook on that block only, meets the
        fault again and sees the exact instruction. None if the rerun does not get there.
        """
        self.counter.restart(budget=instructions_before)
        try:
            self._emulate(self._start_pc)
        except unicorn.UcError:
            return None
        if self.counter.status != block_counter.STATUS_BUDGET_EXCEEDED:
            return None
        pc = self.uc.reg_read(self._pc_reg)
        address, size = block
        if pc != address:
            return None
        self.counter.restart(budget=self._budget)
        self.uc.ctl_flush_tb()  # cached translations have no code hook
        self.uc.hook_add(unicorn.UC_HOOK_CODE, self._on_watched, begin=address, end=address + size - 1)
        try:
            self._emulate(pc | 1 if self._arm else pc)
        except unicorn.UcError:
            pass
        return self._watched_pc

    def _raise_if_failed(self, error: unicorn.UcError | None) -> None:
        if self.uart is not None and self._fault is None and error is None:
            if self.uart.failure is not None:
                raise TinyEdgeError(f"the firmware stopped, printing on its UART: {self.uart.failure}")
            if self.uart.finished:
                return
        if self.semihost.exit is not None and self._fault is None:
            exit_ = self.semihost.exit
            if not exit_.success:
                raise TinyEdgeError(f"firmware exited with an error (semihosting reason 0x{exit_.reason:x}, "
                                    f"status {exit_.status}); console: {self._console_tail()}")
            return
        if self._fault is not None:
            raise self._fault
        if self.counter.write_fault is not None:
            raise TinyEdgeError(f"firmware fault: write to read-only memory (flash) at "
                                f"0x{self.counter.write_fault:08x} (a constant array) near "
                                f"{self._where(self.uc.reg_read(self._pc_reg))}")
        status = self.counter.status
        pc = self.uc.reg_read(self._pc_reg)
        if status == block_counter.STATUS_BUDGET_EXCEEDED:
            raise TinyEdgeError(f"firmware hang: more than {self._budget:,} instructions without exiting, "
                                f"last at {self._where(self.counter.stop_block)}; raise the instruction "
                                "budget if the model is that large")
        if status == block_counter.STATUS_TABLE_FULL:
            raise TinyEdgeError(f"firmware executed more than {block_counter.DEFAULT_CAPACITY:,} distinct "
                                f"code blocks (at {self._where(self.counter.stop_block)}); the block table is full")
        if status == block_counter.STATUS_CODE_UNREADABLE:
            raise TinyEdgeError(f"firmware fault: cannot read the code it executes at "
                                f"{self._where(self.counter.stop_block)}")
        if error is not None:
            raise self._memory_fault(error, pc)
        raise TinyEdgeError(f"firmware stopped at {self._where(pc)} without a semihosting SYS_EXIT")

    def _memory_fault(self, error: unicorn.UcError, pc: int) -> TinyEdgeError:
        if self._invalid_access is None and error.errno in _ACCESS_ERRORS and not self._watch_accesses:
            # planned from the start: a run that had switched meets a store into a data page at a
            # read-only mapping again (trapped, the MMIO callback would stop it with no access to report)
            reads = "plan" if self.counter.planning else None
            self._invalid_access = self._rerun(watch_accesses=True, data_reads=reads).access_of_fault()
        if self._invalid_access is None:
            return self._fault_error(pc, _UC_ERRORS.get(error.errno, str(error)))
        access, address, size = self._invalid_access
        what = _MEMORY_FAULTS.get(access, f"invalid memory access {access}")
        if access in (unicorn.UC_MEM_FETCH_UNMAPPED, unicorn.UC_MEM_FETCH_PROT):
            table = self.counter.blocks()
            last = self._where(int(table.addresses[self.counter.current_block])) if len(table.addresses) else "?"
            return TinyEdgeError(f"firmware fault: {what} 0x{address:08x} (from the block at {last})")
        precise = self._faulting_pc()
        if precise is None:
            return self._fault_error(pc, f"{what} 0x{address:08x} ({size} bytes) in the block starting")
        return self._fault_error(precise, f"{what} 0x{address:08x} ({size} bytes)")

    def _faulting_pc(self) -> int | None:
        table = self.counter.blocks()
        if not len(table.addresses):
            return None
        current = self.counter.current_block
        block = int(table.addresses[current]), int(table.sizes[current])
        before = self.counter.snapshot(exclude_current=True).total
        return self._rerun().pc_of_fault(before, block)

    def _rerun(self, watch_accesses: bool = False, data_reads: str | None = None) -> Emulation:
        """The same run again from the start (it is deterministic), to look closer at a fault or
        with data reads trapped."""
        return Emulation(self.image, self.board, self._input_data, self.model, budget=self._budget,
                         counter=self._counter_kind, uart=self.uart.again() if self.uart is not None else None,
                         watch_accesses=watch_accesses, data_reads=data_reads or self._data_reads)

    # -- reporting ------------------------------------------------------------------------------

    def _where(self, pc: int) -> str:
        return f"PC 0x{pc:08x} in {self.image.function_at(pc)}"

    def _fault_error(self, pc: int, what: str) -> TinyEdgeError:
        return TinyEdgeError(f"firmware fault: {what} at {self._where(pc)}")

    def _console_tail(self) -> str:
        text = self.semihost.console_text().strip()
        return repr(text[-200:]) if text else "(empty)"

    def _stack_top(self) -> int:
        """The initial SP; without one (RV32 without a stack-top symbol) the end of the RAM
        region the stack was seen in."""
        if self.initial_sp is not None:
            return self.initial_sp
        region = next((e for s, e, kind in self._regions if kind != FLASH and s <= self.lowest_sp < e), None)
        return region if region is not None else self.lowest_sp

    def _deepest_stack_write(self) -> int:
        """Lowest address below the initial SP whose paint was overwritten (the SP if none)."""
        if self._painted is None:
            return self.lowest_sp
        low, high = self._painted
        data = np.frombuffer(bytes(self.uc.mem_read(low, high - low)), np.uint8)
        changed = np.flatnonzero(data != STACK_PAINT)
        return low + int(changed[0]) if len(changed) else high


def run(image: FirmwareImage, board: SimBoard, inputs: Sequence[bytes], model: CycleModel, *,
        budget: int = DEFAULT_BUDGET, counter: str = "auto", uart: UartModel | None = None) -> Measurements:
    return Emulation(image, board, b"".join(inputs), model, budget=budget, counter=counter, uart=uart).run()

