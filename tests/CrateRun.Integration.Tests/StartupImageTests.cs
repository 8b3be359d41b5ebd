using System.Buffers.Binary;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// Every OCI command is a fresh process (containerd's shim runs about twelve per pod), so the
/// published binary's start-up is part of every container's cost. Its data must be usable as
/// mapped from the file: NativeAOT's default rebuilds ("rehydrates") 3.6 MB of data at each
/// start, and a position-independent image instead makes the loader apply some 200,000
/// relocations; either was half of a short command's CPU time. Read from the ELF headers
/// (System V gABI: e_type, the program headers' PT_LOAD entries).
/// </summary>
public sealed class StartupImageTests
{
    private const ushort EtExec = 2;          // a fixed-address executable (ET_DYN: position-independent)
    private const uint PtLoad = 1;
    private const uint PfWrite = 2;

    [RootFact]
    public void The_binary_is_a_fixed_address_executable_whose_data_is_in_the_file_as_used()
    {
        var elf = File.ReadAllBytes(Prerequisites.Binary);
        Assert.True(elf.Length > 64 && elf[0] == 0x7f && elf[1] == 'E' && elf[2] == 'L' && elf[3] == 'F' && elf[4] == 2,
            $"{Prerequisites.Binary} is not a 64-bit ELF file");
        var type = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(16));
        Assert.True(type == EtExec, $"e_type is {type}: a position-independent image needs its data relocated at every start");

        var phoff = (int)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(32));
        var phentsize = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(54));
        var phnum = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(56));
        var writable = new List<(ulong File, ulong Memory)>();
        for (var i = 0; i < phnum; i++)
        {
            var ph = elf.AsSpan(phoff + i * phentsize, phentsize);
            if (BinaryPrimitives.ReadUInt32LittleEndian(ph) != PtLoad || (BinaryPrimitives.ReadUInt32LittleEndian(ph[4..]) & PfWrite) == 0) continue;
            writable.Add((BinaryPrimitives.ReadUInt64LittleEndian(ph[32..]), BinaryPrimitives.ReadUInt64LittleEndian(ph[40..])));
        }
        Assert.NotEmpty(writable);
        // zero-initialised data (.bss) is legitimately not in the file, but it is small; rehydrated
        // data is stored compressed: a tenth of its size in memory
        var inFile = writable.Sum(w => (double)w.File);
        var inMemory = writable.Sum(w => (double)w.Memory);
        Assert.True(inFile >= inMemory * 0.5,
            $"the writable segments hold {inFile / 1024:F0} KiB of their {inMemory / 1024:F0} KiB: the rest is rebuilt at every start (IlcDehydrate)");
    }
}
