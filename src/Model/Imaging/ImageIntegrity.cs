using System.Buffers.Binary;

namespace CaptionService.Model.Imaging;

/// <summary>
/// Checks an encoded image's structure end to end before it is decoded: every segment, chunk or
/// block is complete and the file reaches the end its format requires. ImageSharp 2.1's decoders
/// are lenient: a truncated JPEG (baseline or progressive), GIF or BMP decodes without an error,
/// with grey or black where the missing data was, and would be captioned. Nothing is decompressed
/// here; a linear walk over the bytes. Trailing bytes after the end are allowed.
/// </summary>
public static class ImageIntegrity
{
    /// <summary>Throws <see cref="ImageRejectedException"/> (<see cref="ImageRejectReason.Corrupt"/>)
    /// naming what is missing or broken.</summary>
    /// <param name="format">the format <see cref="ImagePreprocessor.Identify(byte[])"/> found: JPEG, PNG, GIF, WEBP or BMP</param>
    public static void Check(string format, ReadOnlySpan<byte> data)
    {
        string? problem = format switch
        {
            "JPEG" => Jpeg(data),
            "PNG" => Png(data),
            "GIF" => Gif(data),
            "WEBP" => Webp(data),
            "BMP" => Bmp(data),
            _ => null,
        };
        if (problem is not null)
            throw new ImageRejectedException(ImageRejectReason.Corrupt, $"The {format} image is damaged or truncated: {problem}.");
    }

    private static string Truncated(string where, int at) => $"it ends at byte {at:N0}, inside {where}";

    /// <summary>SOI, then segments (each with its length), entropy-coded data after every SOS, up to EOI.</summary>
    private static string? Jpeg(ReadOnlySpan<byte> d)
    {
        if (d.Length < 2 || d[0] != 0xFF || d[1] != 0xD8) return "it does not start with a start-of-image marker";
        int pos = 2;
        bool frame = false, scan = false;
        while (true)
        {
            // The next marker; bytes that are not one (some encoders leave a few) are skipped, as libjpeg does.
            int ff = d[pos..].IndexOf((byte)0xFF);
            if (ff < 0) return $"it ends at byte {d.Length:N0} without an end-of-image marker";
            pos += ff;
            while (pos < d.Length && d[pos] == 0xFF) pos++;   // fill bytes
            if (pos >= d.Length) return $"it ends at byte {d.Length:N0} without an end-of-image marker";
            byte marker = d[pos++];
            if (marker == 0xD9)
                return !frame ? "it has no frame header" : !scan ? "it has no image data (no scan)" : null;
            if (marker is 0x01 or 0xD8 or (>= 0xD0 and <= 0xD7)) continue;   // no length
            if (marker == 0x00) return $"byte {pos - 2:N0} is not a marker";
            if (pos + 2 > d.Length) return Truncated("a segment's length", d.Length);
            int length = BinaryPrimitives.ReadUInt16BigEndian(d[pos..]);
            if (length < 2) return $"the segment at byte {pos - 2:N0} declares {length} bytes";
            if (pos + length > d.Length) return Truncated($"the 0xFF{marker:X2} segment at byte {pos - 2:N0}", d.Length);
            frame |= marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC;
            pos += length;
            if (marker != 0xDA) continue;
            scan = true;
            // Entropy-coded data runs to the next marker other than a stuffed zero or a restart marker.
            while (true)
            {
                int next = d[pos..].IndexOf((byte)0xFF);
                if (next < 0 || pos + next + 1 >= d.Length) return Truncated($"the scan's data", d.Length);
                pos += next;
                byte b = d[pos + 1];
                if (b == 0x00 || b is >= 0xD0 and <= 0xD7) { pos += 2; continue; }
                if (b == 0xFF) { pos++; continue; }
                break;
            }
        }
    }

    /// <summary>Signature, IHDR first, complete chunks, at least one IDAT, up to IEND.</summary>
    private static string? Png(ReadOnlySpan<byte> d)
    {
        int pos = 8;
        bool data = false;
        for (int chunk = 0; ; chunk++)
        {
            if (pos + 8 > d.Length) return pos == d.Length ? $"it ends at byte {pos:N0} without an IEND chunk" : Truncated("a chunk header", d.Length);
            uint length = BinaryPrimitives.ReadUInt32BigEndian(d[pos..]);
            var type = d.Slice(pos + 4, 4);
            foreach (var c in type)
                if (!char.IsAsciiLetter((char)c)) return $"the chunk at byte {pos:N0} has no valid type";
            string name = System.Text.Encoding.ASCII.GetString(type);
            if (chunk == 0 && name != "IHDR") return "it does not start with an IHDR chunk";
            if (length > int.MaxValue || pos + 12L + length > d.Length) return Truncated($"the {name} chunk at byte {pos:N0} ({length:N0} bytes declared)", d.Length);
            if (name == "IDAT") data = true;
            if (name == "IEND") return data ? null : "it has no image data (no IDAT chunk)";
            pos += 12 + (int)length;
        }
    }

    /// <summary>Header, screen descriptor and colour table, then complete blocks: extensions and images,
    /// each with its sub-blocks to their terminator. A missing final trailer byte alone is allowed.</summary>
    private static string? Gif(ReadOnlySpan<byte> d)
    {
        if (d.Length < 13) return Truncated("the screen descriptor", d.Length);
        int pos = 13 + ColourTable(d[10]);
        if (pos > d.Length) return Truncated("the global colour table", d.Length);
        int images = 0;
        while (true)
        {
            if (pos >= d.Length) return images > 0 ? null : Truncated("the blocks before the first image", d.Length);
            byte block = d[pos++];
            switch (block)
            {
                case 0x3B:
                    return images > 0 ? null : "it has no image";
                case 0x21:
                    if (pos >= d.Length) return Truncated("an extension", d.Length);
                    pos = SubBlocks(d, pos + 1);
                    if (pos < 0) return Truncated("an extension's data", d.Length);
                    break;
                case 0x2C:
                    if (pos + 9 > d.Length) return Truncated("an image descriptor", d.Length);
                    pos += 9 + ColourTable(d[pos + 8]);
                    if (pos + 1 > d.Length) return Truncated("an image's colour table", d.Length);
                    pos = SubBlocks(d, pos + 1);   // after the LZW code size
                    if (pos < 0) return Truncated($"image {images + 1}'s data", d.Length);
                    images++;
                    break;
                default:
                    return $"byte {pos - 1:N0} (0x{block:X2}) starts no block";
            }
        }

        static int ColourTable(byte packed) => (packed & 0x80) != 0 ? 3 << ((packed & 7) + 1) : 0;

        static int SubBlocks(ReadOnlySpan<byte> d, int pos)
        {
            while (pos < d.Length)
            {
                int size = d[pos++];
                if (size == 0) return pos;
                pos += size;
            }
            return -1;
        }
    }

    /// <summary>RIFF header whose size the file holds, and complete chunks inside it, one of them the image.</summary>
    private static string? Webp(ReadOnlySpan<byte> d)
    {
        if (d.Length < 12) return Truncated("the RIFF header", d.Length);
        long riffEnd = 8L + BinaryPrimitives.ReadUInt32LittleEndian(d[4..]);
        if (riffEnd > d.Length) return $"it declares {riffEnd:N0} bytes and has {d.Length:N0}";
        long pos = 12;
        bool image = false;
        while (pos < riffEnd)
        {
            if (pos + 8 > riffEnd) return Truncated("a chunk header", (int)riffEnd);
            string name = System.Text.Encoding.ASCII.GetString(d.Slice((int)pos, 4));
            long size = BinaryPrimitives.ReadUInt32LittleEndian(d[(int)(pos + 4)..]);
            if (pos + 8 + size > riffEnd) return Truncated($"the {name.TrimEnd()} chunk at byte {pos:N0} ({size:N0} bytes declared)", (int)riffEnd);
            image |= name is "VP8 " or "VP8L" or "ANMF";
            pos += 8 + size + (size & 1);   // chunks are padded to an even size
        }
        return image ? null : "it has no image chunk (VP8, VP8L)";
    }

    /// <summary>The pixel data the headers describe lies inside the file (uncompressed rows, or the
    /// declared size of compressed data).</summary>
    private static string? Bmp(ReadOnlySpan<byte> d)
    {
        if (d.Length < 26) return Truncated("the headers", d.Length);
        long offset = BinaryPrimitives.ReadUInt32LittleEndian(d[10..]);
        int header = BinaryPrimitives.ReadInt32LittleEndian(d[14..]);
        if (header < 12 || 14L + header > d.Length) return Truncated("the bitmap header", d.Length);
        long width, height;
        int bits, compression = 0;
        long sizeImage = 0;
        if (header == 12)
        {
            (width, height, bits) = (BinaryPrimitives.ReadUInt16LittleEndian(d[18..]), BinaryPrimitives.ReadUInt16LittleEndian(d[20..]), BinaryPrimitives.ReadUInt16LittleEndian(d[24..]));
        }
        else
        {
            if (d.Length < 38) return Truncated("the bitmap header", d.Length);
            (width, height, bits) = (BinaryPrimitives.ReadInt32LittleEndian(d[18..]), Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(d[22..])), BinaryPrimitives.ReadUInt16LittleEndian(d[28..]));
            compression = BinaryPrimitives.ReadInt32LittleEndian(d[30..]);
            sizeImage = BinaryPrimitives.ReadUInt32LittleEndian(d[34..]);
        }
        if (offset > d.Length) return $"its pixel data starts at byte {offset:N0}, past its end ({d.Length:N0})";
        long need = compression switch
        {
            0 or 3 or 6 => (width * bits + 31) / 32 * 4 * height,   // rows padded to 4 bytes
            _ => sizeImage,                                         // RLE: the declared size, when given
        };
        return offset + need > d.Length ? $"its pixel data needs {need:N0} bytes from byte {offset:N0}, and it has {d.Length - offset:N0}" : null;
    }
}
