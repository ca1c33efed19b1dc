using System.Text;

namespace CaptionService.Training.Data.Readers;

/// <summary>One CSV record and the line it starts on (a quoted field may span lines).</summary>
internal sealed record CsvRecord(long Line, IReadOnlyList<string> Fields);

/// <summary>
/// RFC 4180 CSV: fields separated by the delimiter, records by CRLF or LF; a field in double quotes
/// may hold delimiters, newlines and doubled quotes (<c>"a ""big"" dog, running"</c>). Like most
/// readers we accept a bare quote inside an unquoted field as a literal character. An unterminated
/// quote, or text right after a closing quote, is an error naming file and line. Blank lines are skipped.
/// </summary>
internal static class Csv
{
    public static IEnumerable<CsvRecord> Read(string path, char delimiter = ',')
    {
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        var fields = new List<string>();
        var field = new StringBuilder();
        long line = 1, recordLine = 1;
        bool quoted = false, afterQuote = false, any = false;
        int c;
        while ((c = reader.Read()) >= 0)
        {
            char ch = (char)c;
            if (quoted)
            {
                if (ch == '"')
                {
                    if (reader.Peek() == '"') { reader.Read(); field.Append('"'); }
                    else (quoted, afterQuote) = (false, true);
                }
                else
                {
                    if (ch == '\n') line++;
                    field.Append(ch);
                }
                continue;
            }
            if (ch == delimiter)
            {
                fields.Add(field.ToString());
                (field.Length, afterQuote, any) = (0, false, true);
            }
            else if (ch is '\n' or '\r')
            {
                if (ch == '\r' && reader.Peek() == '\n') reader.Read();
                fields.Add(field.ToString());
                if (any || fields[0].Length > 0) yield return new CsvRecord(recordLine, fields.ToArray());
                fields.Clear();
                (field.Length, afterQuote, any) = (0, false, false);
                recordLine = ++line;
            }
            else if (afterQuote)
                throw new InvalidDataException($"{path}:{line}: unexpected '{ch}' after a closing quote (a quote inside a quoted field is written \"\")");
            else if (ch == '"' && field.Length == 0)
                (quoted, any) = (true, true);
            else
                field.Append(ch);
        }
        if (quoted) throw new InvalidDataException($"{path}:{recordLine}: unterminated quoted field");
        fields.Add(field.ToString());
        if (any || fields[0].Length > 0) yield return new CsvRecord(recordLine, fields.ToArray());
    }

    /// <summary>Index of the first header column whose name (trimmed, any case) is one of <paramref name="names"/>, or -1.</summary>
    public static int Column(IReadOnlyList<string> header, params string[] names)
    {
        for (int i = 0; i < header.Count; i++)
            if (names.Contains(header[i].Trim().TrimStart('\uFEFF'), StringComparer.OrdinalIgnoreCase)) return i;
        return -1;
    }
}
