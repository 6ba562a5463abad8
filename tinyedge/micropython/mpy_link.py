"""tinyedge's own native-module linker: ELF objects (and libgcc members) to one viper raw code.

MicroPython copies a native module's text into RAM at a run-time address and can only add that
address (or BSS's, or an mp_fun_table entry's) to pointer-sized, aligned words. So:
- code and constant data share one text blob, laid out here, and reach each other PC-relative
  (the relocations are resolved now, by arch: x86-64, Arm Thumb, RV32);
- the entry function `mpy_init` is placed at offset 0, where the loader calls the code;
- zero-initialised data is BSS, allocated by the loader; code can only reach it through a GOT
  entry (a word in text the loader relocates), which -fpic code uses for non-static globals;
- absolute pointers in constant data become loader relocations too.
What cannot be placed is refused with one line: initialised writable data (.data), a static
writable variable reached PC-relative, libm, a call outside the module.

Sections nothing reaches from the entry are left out, like `ld --gc-sections`.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import SymbolTableSection

from tinyedge.micropython import mpy_format as fmt
from tinyedge.micropython import relocate
from tinyedge.micropython.arch import ARCHS, Arch, LinkError

ENTRY = "mpy_init"
# Symbols the loader provides: the module's qstr and constant tables, and MicroPython's function table.
SPECIAL = {"mp_native_qstr_table": fmt.DEST_QSTR_TABLE, "mp_native_obj_table": fmt.DEST_OBJ_TABLE,
           "mp_fun_table": fmt.DEST_FUN_TABLE}
LIBM = frozenset({
    "sqrt", "sqrtf", "exp", "expf", "log", "logf", "pow", "powf", "floor", "floorf", "ceil", "ceilf",
    "round", "roundf", "lround", "lroundf", "tanh", "tanhf", "sin", "sinf", "cos", "cosf", "fabs", "fabsf",
    "fmod", "fmodf", "log2", "log2f", "exp2", "exp2f", "frexp", "frexpf", "ldexp", "ldexpf", "trunc", "truncf",
    "nearbyint", "nearbyintf", "rint", "rintf", "erf", "erff", "atan", "atanf", "atan2", "atan2f",
})
DROPPED = (".debug", ".comment", ".note", ".eh_frame", ".ARM.exidx", ".ARM.extab", ".ARM.attributes",
           ".riscv.attributes", ".group", ".stack_sizes", ".gnu")


@dataclass
class _Section:
    obj: str  # object (or archive member) name, for messages
    index: int
    name: str
    data: bytes  # b"" for BSS
    size: int
    align: int
    kind: str  # "text", "rodata", "data", "bss"
    relocs: list[tuple[int, int, int, int | None]] = field(default_factory=list)  # offset, type, symbol index, addend
    symbols: list = field(default_factory=list)  # the object's symbol table (index -> symbol)
    address: int = -1  # offset in text, or in BSS for kind "bss"

    @property
    def label(self) -> str:
        return f"{self.name} of {self.obj}"


@dataclass(frozen=True)
class _Symbol:
    name: str
    section: _Section | None  # None: undefined here
    value: int
    binding: str
    is_func: bool


@dataclass(frozen=True)
class LinkedModule:
    """One native module, ready for the .mpy writer."""

    arch: Arch
    text: bytes
    bss_bytes: int
    relocations: tuple[fmt.Relocation, ...]
    symbols: dict[str, int]  # global symbol -> offset in text (or in BSS, for BSS symbols)
    got_entries: int
    rodata_bytes: int  # constant data inside text (weights included)
    objects: tuple[str, ...]  # the objects and archive members that were linked

    def mpy(self, qstrs: Sequence[str], constants: Sequence[fmt.Constant]) -> bytes:
        return fmt.native_mpy(self.arch.number, self.text, self.bss_bytes, self.relocations, qstrs, constants,
                              self.arch.word)


def _kind(section) -> str | None:
    flags, name = section["sh_flags"], section.name
    if not flags & 0x2 or name.startswith(DROPPED):  # not SHF_ALLOC
        return None
    if flags & 0x400:  # SHF_TLS
        return "tls"
    if name.startswith((".init_array", ".fini_array", ".ctors", ".dtors", ".preinit_array")):
        return "ctor"
    if flags & 0x4:
        return "text"
    if section["sh_type"] == "SHT_NOBITS":
        return "bss"
    if flags & 0x1 and not name.startswith(".data.rel.ro"):  # writable, initialised
        return "data"
    return "rodata"  # .rodata*, .srodata*, .data.rel.ro* (constant once relocated)


def _read_object(name: str, blob: bytes, arch: Arch) -> tuple[list[_Section], list[_Symbol]]:
    elf = ELFFile(io.BytesIO(blob))
    if elf["e_type"] != "ET_REL":
        raise LinkError(f"{name} is not a relocatable object (ELF type {elf['e_type']}); compile it with -c")
    if elf["e_machine"] != arch.machine:
        raise LinkError(f"{name} is for {elf['e_machine']}, not {arch.name} ({arch.machine}); "
                        f"compile it with the {arch.name} compiler")
    sections: dict[int, _Section] = {}
    for index, sec in enumerate(elf.iter_sections()):
        kind = _kind(sec)
        if kind is None:
            continue
        data = b"" if sec["sh_type"] == "SHT_NOBITS" else sec.data()
        sections[index] = _Section(name, index, sec.name, data, sec["sh_size"], max(sec["sh_addralign"], 1), kind)
    symtab = next((s for s in elf.iter_sections() if isinstance(s, SymbolTableSection)), None)
    symbols: list[_Symbol] = []
    if symtab is not None:
        for sym in symtab.iter_symbols():
            shndx = sym["st_shndx"]
            section = sections.get(shndx) if isinstance(shndx, int) else None
            is_func = sym["st_info"]["type"] == "STT_FUNC"
            value = sym["st_value"] & ~1 if is_func and arch.machine == "EM_ARM" else sym["st_value"]  # Thumb bit
            symbols.append(_Symbol(sym.name, section, value, sym["st_info"]["bind"], is_func))
    for sec in elf.iter_sections():
        if isinstance(sec, RelocationSection) and sec["sh_info"] in sections:
            target = sections[sec["sh_info"]]
            for rel in sec.iter_relocations():
                addend = rel["r_addend"] if sec.is_RELA() else None  # None: REL, the addend is in place
                target.relocs.append((rel["r_offset"], rel["r_info_type"], rel["r_info_sym"], addend))
    for section in sections.values():
        section.symbols = symbols
    return list(sections.values()), symbols


def _archive_members(path: Path) -> Iterable[tuple[str, bytes]]:
    """The object members of a System V `ar` archive (libgcc.a)."""
    blob = path.read_bytes()
    if not blob.startswith(b"!<arch>\n"):
        raise LinkError(f"{path} is not an ar archive")
    pos, long_names = 8, b""
    while pos + 60 <= len(blob):
        header = blob[pos:pos + 60]
        name, size = header[:16].decode().strip(), int(header[48:58].decode().strip())
        body = blob[pos + 60:pos + 60 + size]
        pos += 60 + size + (size & 1)
        if name == "//":
            long_names = body
        elif name in ("/", "/SYM64/"):
            continue
        else:
            if name.startswith("/") and name[1:].isdigit():
                start = int(name[1:])
                name = long_names[start:long_names.index(b"/\n", start)].decode()
            yield f"{path.name}({name.rstrip('/')})", body


class _Linker:
    def __init__(self, arch: Arch):
        self.arch = arch
        self.sections: list[_Section] = []
        self.globals: dict[str, _Symbol] = {}
        self.objects: list[str] = []
        self.got: dict[tuple, int] = {}  # target key -> offset of its entry in the GOT
        self.relocations: list[fmt.Relocation] = []

    def add(self, name: str, blob: bytes) -> None:
        sections, symbols = _read_object(name, blob, self.arch)
        self.sections += sections
        self.objects.append(name)
        for sym in symbols:
            if sym.section is None or sym.binding not in ("STB_GLOBAL", "STB_WEAK") or not sym.name:
                continue
            known = self.globals.get(sym.name)
            if known is not None and known.binding == "STB_GLOBAL" and sym.binding == "STB_GLOBAL":
                raise LinkError(f"symbol {sym.name} is defined twice: in {known.section.obj} and {name}; "
                                "rename one or make it static")
            if known is None or known.binding == "STB_WEAK":
                self.globals[sym.name] = sym

    def undefined(self, kept: list[_Section]) -> list[tuple[str, str]]:
        """(symbol, object) pairs the kept sections reference and nothing defines yet (the loader's excepted)."""
        missing = []
        for section in kept:
            for _, _, index, _ in section.relocs:
                sym = section.symbols[index]
                if sym.section is None and sym.name and sym.name not in self.globals and sym.name not in SPECIAL \
                        and sym.name != "_GLOBAL_OFFSET_TABLE_":
                    missing.append((sym.name, section.obj))
        return missing

    def resolve(self, section: _Section, index: int) -> tuple[_Section | None, int, _Symbol]:
        """Section and offset a relocation's symbol stands for (None for loader-provided symbols)."""
        sym = section.symbols[index]
        if sym.section is None and sym.name in self.globals:
            sym = self.globals[sym.name]
        return sym.section, sym.value, sym

    # ------------------------------------------------------------- layout

    def reachable(self) -> list[_Section]:
        entry = self.globals.get(ENTRY)
        if entry is None or entry.section is None:
            raise LinkError(f"no `{ENTRY}` function: the module's glue must define it")
        seen = {id(entry.section): entry.section}
        todo = [entry.section]
        while todo:
            section = todo.pop()
            for _, _, index, _ in section.relocs:
                target, _, _ = self.resolve(section, index)
                if target is not None and id(target) not in seen:
                    seen[id(target)] = target
                    todo.append(target)
        return [s for s in self.sections if id(s) in seen]

    def layout(self, kept: list[_Section]) -> tuple[bytearray, int, int]:
        for section in kept:
            if section.kind == "data" and any(section.data):
                names = self._symbols_in(section)
                raise LinkError(f"{section.obj} has initialised writable data ({section.name}: {names}); a native "
                                ".mpy has no .data: make it const, or zero-initialised and set it at run time")
            if section.kind in ("tls", "ctor"):
                raise LinkError(f"{section.obj} has {section.name}: thread-local data and constructors cannot "
                                "be held by a native .mpy")
        entry = self.globals[ENTRY].section
        order = [entry] + [s for s in kept if s.kind == "text" and s is not entry] + \
                [s for s in kept if s.kind == "rodata"]
        text, offset = bytearray(), 0
        for section in order:
            offset = _align(offset, section.align)
            text += bytes(offset - len(text))
            section.address = offset
            text += section.data
            offset += section.size
        rodata_bytes = sum(s.size for s in kept if s.kind == "rodata")
        bss = 0
        for section in kept:
            if section.kind in ("bss", "data"):  # an all-zero .data is BSS
                bss = _align(bss, section.align)
                section.address = bss
                section.kind = "bss"
                bss += section.size
        return text, _align(bss, self.arch.word) if bss else 0, rodata_bytes

    def _symbols_in(self, section: _Section) -> str:
        names = sorted({s.name for s in section.symbols  # not Arm's $a/$t/$d mapping symbols, not .L labels
                        if s.section is section and s.name and not s.name.startswith(("$", ".L"))})
        return ", ".join(names) or "unnamed"

    # ------------------------------------------------------------- GOT

    def got_key(self, target: _Section | None, value: int, sym: _Symbol, addend: int = 0) -> tuple:
        if target is None:
            return ("special", sym.name)
        return ("section", id(target), value + addend)

    def collect_got(self, kept: list[_Section], got_types: set[int]) -> list[tuple]:
        keys: dict[tuple, tuple] = {}
        for section in kept:
            for _, rtype, index, _ in section.relocs:
                if rtype in got_types:
                    target, value, sym = self.resolve(section, index)
                    keys.setdefault(self.got_key(target, value, sym), (target, value, sym))
        return list(keys.items())

    def place_got(self, text: bytearray, entries: list[tuple], bss_bytes: int) -> int:
        """Append the GOT to text (word aligned) and its loader relocations; returns its offset."""
        word = self.arch.word
        got_at = _align(len(text), word)
        text += bytes(got_at - len(text))
        if bss_bytes:  # a word holding BSS's start keeps the BSS block alive for the GC on every port
            entries = [(("bss-start",), (None, 0, None))] + entries
        for n, (key, (target, value, sym)) in enumerate(entries):
            at = got_at + n * word
            self.got[key] = at
            if key == ("bss-start",):
                text += bytes(word)
                self.relocations.append(fmt.Relocation(at, fmt.DEST_BSS))
                continue
            if target is None:
                text += bytes(word)
                self.relocations.append(fmt.Relocation(at, SPECIAL[sym.name]))
                continue
            text += (target.address + value + (1 if self._thumb_func(sym) else 0)).to_bytes(word, "little")
            self.relocations.append(fmt.Relocation(at, fmt.DEST_BSS if target.kind == "bss" else fmt.DEST_TEXT))
        return got_at

    def _thumb_func(self, sym: _Symbol | None) -> bool:
        return self.arch.machine == "EM_ARM" and sym is not None and sym.is_func

    # ------------------------------------------------------------- helpers for the arch modules

    def address(self, section: _Section, index: int, addend: int, place: int, what: str) -> int:
        """Text address of a PC-relative relocation's target; refuses BSS and loader symbols."""
        target, value, sym = self.resolve(section, index)
        if target is None:
            raise LinkError(f"{section.obj} reaches {sym.name} PC-relative; it is provided by the loader at run "
                            f"time, so only through the GOT (compile with -fpic)")
        if target.kind == "bss":
            name = sym.name if sym.name else self._symbols_in(target)
            raise LinkError(f"{section.obj} reaches the writable static `{name}` PC-relative ({what} in "
                            f"{section.name}); a native .mpy keeps writable data apart from its code: make it "
                            "a non-static global (the code then reaches it through the GOT) or const")
        return target.address + value + addend + (1 if self._thumb_func(sym) else 0)  # (S + A) | T

    def absolute(self, section: _Section, index: int, addend: int, place: int) -> int:
        """Value of an absolute pointer at text `place` (a loader relocation is recorded for it)."""
        target, value, sym = self.resolve(section, index)
        if place % self.arch.word:
            raise LinkError(f"{section.obj} has an absolute pointer at an unaligned place in {section.name}; "
                            "the .mpy loader relocates aligned words only")
        if target is None:
            self.relocations.append(fmt.Relocation(place, SPECIAL[sym.name]))
            return addend
        dest = fmt.DEST_BSS if target.kind == "bss" else fmt.DEST_TEXT
        self.relocations.append(fmt.Relocation(place, dest))
        return target.address + value + addend + (1 if self._thumb_func(sym) else 0)  # (S + A) | T


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


def link(objects: Sequence[Path], arch: Arch | str, archives: Sequence[Path] = ()) -> LinkedModule:
    """Link compiled objects (and the libgcc members they need) into one native module."""
    arch = ARCHS[arch] if isinstance(arch, str) else arch
    linker = _Linker(arch)
    for path in objects:
        linker.add(Path(path).name, Path(path).read_bytes())
    members = [member for archive in archives for member in _archive_members(Path(archive))]
    while True:
        missing = linker.undefined(linker.reachable())
        if not missing:
            break
        pulled = False
        wanted = {name for name, _ in missing}
        for name, blob in members:
            if name in linker.objects:
                continue
            elf_symbols = _defined_globals(blob)
            if wanted & elf_symbols:
                linker.add(name, blob)
                pulled = True
                break
        if not pulled:
            name, obj = next(((n, o) for n, o in missing if n in LIBM), missing[0])  # libm first: the cause
            if name in LIBM:
                raise LinkError(f"{obj} calls {name}, from libm: newlib's libm carries .data, which a native .mpy "
                                "cannot hold; compute it without libm (the kernels use integer arithmetic)")
            raise LinkError(f"{obj} calls {name}, which is not in the module: a native .mpy reaches only its own "
                            "code, libgcc and MicroPython's mp_fun_table")
    kept = linker.reachable()
    text, bss_bytes, rodata_bytes = linker.layout(kept)
    got_entries = linker.collect_got(kept, relocate.got_types(arch))
    got_at = linker.place_got(text, got_entries, bss_bytes)
    for section in kept:
        relocate.apply(linker, section, text, got_at)
    symbols = {name: sym.section.address + sym.value for name, sym in linker.globals.items()
               if sym.section is not None and sym.section.address >= 0}
    return LinkedModule(arch, bytes(text), bss_bytes, tuple(linker.relocations), symbols, len(got_entries),
                        rodata_bytes, tuple(linker.objects))


def _defined_globals(blob: bytes) -> set[str]:
    elf = ELFFile(io.BytesIO(blob))
    symtab = next((s for s in elf.iter_sections() if isinstance(s, SymbolTableSection)), None)
    if symtab is None:
        return set()
    return {s.name for s in symtab.iter_symbols()
            if s["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK") and s["st_shndx"] != "SHN_UNDEF"}


def read_u32(data: bytearray, at: int) -> int:
    return struct.unpack_from("<I", data, at)[0]
