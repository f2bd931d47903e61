// MSBuild inline task: sets VER_FLG_WEAK on one ELF version requirement (vernaux entry) of every
// libLibTorchSharp.so below a folder, when the host's libstdc++ does not define that version.
// See GlibcxxMarkerFix.targets for why.
using System;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class BlipWeakenGlibcxxRequirement : Task
{
    [Required] public string Folder { get; set; } = "";
    [Required] public string VersionName { get; set; } = "";

    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    private static readonly string[] LibStdCxxCandidates =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
    };

    public override bool Execute()
    {
        if (!Directory.Exists(Folder)) return true;
        var libs = Directory.GetFiles(Folder, "libLibTorchSharp.so", SearchOption.AllDirectories);
        if (libs.Length == 0) return true;
        var hostLib = LibStdCxxCandidates.FirstOrDefault(File.Exists);
        if (hostLib == null)
        {
            Log.LogMessage(MessageImportance.Low, "No host libstdc++.so.6 found; libLibTorchSharp.so left as it is.");
            return true;
        }
        if (Contains(File.ReadAllBytes(hostLib), Encoding.ASCII.GetBytes(VersionName + "\0")))
        {
            Log.LogMessage(MessageImportance.Low, hostLib + " defines " + VersionName + "; nothing to patch.");
            return true;
        }
        foreach (var lib in libs)
        {
            try { Patch(lib); }
            catch (Exception e) when (e is IOException || e is InvalidDataException || e is UnauthorizedAccessException)
            {
                Log.LogError("Could not weaken " + VersionName + " in " + lib + ": " + e.Message);
                return false;
            }
        }
        return !Log.HasLoggedErrors;
    }

    private void Patch(string path)
    {
        var elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("not a little-endian ELF64 file");
        long shoff = BitConverter.ToInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A), shnum = BitConverter.ToUInt16(elf, 0x3C);
        bool changed = false, found = false;
        for (int i = 0; i < shnum; i++)
        {
            long sh = shoff + (long)i * shentsize;
            if (BitConverter.ToUInt32(elf, (int)sh + 4) != ShtGnuVerneed) continue;
            long offset = BitConverter.ToInt64(elf, (int)sh + 0x18);
            int link = BitConverter.ToInt32(elf, (int)sh + 0x28), count = BitConverter.ToInt32(elf, (int)sh + 0x2C);
            long strtab = BitConverter.ToInt64(elf, (int)(shoff + (long)link * shentsize) + 0x18);
            long need = offset;
            for (int n = 0; n < count; n++)
            {
                int auxCount = BitConverter.ToUInt16(elf, (int)need + 2);
                long aux = need + BitConverter.ToUInt32(elf, (int)need + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    string name = ReadString(elf, strtab + BitConverter.ToUInt32(elf, (int)aux + 8));
                    if (name == VersionName)
                    {
                        found = true;
                        ushort flags = BitConverter.ToUInt16(elf, (int)aux + 4);
                        if ((flags & VerFlgWeak) == 0)
                        {
                            BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(elf, (int)aux + 4);
                            changed = true;
                        }
                    }
                    aux += BitConverter.ToUInt32(elf, (int)aux + 12);
                }
                need += BitConverter.ToUInt32(elf, (int)need + 12);
            }
        }
        if (!found)
        {
            Log.LogMessage(MessageImportance.Low, path + " requires no " + VersionName + ".");
            return;
        }
        if (!changed) return;
        // Write beside and rename, so a hard link into the NuGet cache is replaced, never written through.
        var temp = path + ".weak.tmp";
        File.WriteAllBytes(temp, elf);
        File.Delete(path);
        File.Move(temp, path);
        Log.LogMessage(MessageImportance.Normal, "Marked " + VersionName + " weak in " + path);
    }

    private static string ReadString(byte[] data, long at)
    {
        int end = (int)at;
        while (data[end] != 0) end++;
        return Encoding.ASCII.GetString(data, (int)at, end - (int)at);
    }

    private static bool Contains(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }
}
