using System.Text;
using Spectre.Console;

namespace CaptionService.Training.Bench;

/// <summary>One table of the report: a title, column names, rows of cells, and notes under it.</summary>
public sealed class BenchTable(string title, params string[] columns)
{
    public string Title { get; } = title;
    public IReadOnlyList<string> Columns { get; } = columns;
    public List<string[]> Rows { get; } = [];
    public List<string> Notes { get; } = [];

    public BenchTable Add(params string[] cells)
    {
        if (cells.Length != Columns.Count) throw new ArgumentException($"{Title}: {cells.Length} cells for {Columns.Count} columns");
        Rows.Add(cells);
        return this;
    }
}

/// <summary>
/// Everything one <c>captioner bench</c> run measured: printed as tables while it runs, and written
/// as Markdown between two marker lines of a file, so the hand-written rest of the file stays.
/// </summary>
public sealed class BenchReport(string? section = null)
{
    /// <summary>The markers of the CPU run's section (the default).</summary>
    public const string Begin = "<!-- captioner bench: generated section begins -->";
    public const string End = "<!-- captioner bench: generated section ends -->";

    /// <summary>A run on another device keeps its own section beside the CPU one, e.g. "cuda".</summary>
    private string BeginMarker => section is null ? Begin : $"<!-- captioner bench ({section}): generated section begins -->";
    private string EndMarker => section is null ? End : $"<!-- captioner bench ({section}): generated section ends -->";

    public List<string> Header { get; } = [];
    public List<BenchTable> Tables { get; } = [];

    /// <summary>Prints one table (no colours, so that it reads the same in a log file).</summary>
    public static void Print(BenchTable table, TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 200;
        var t = new Table { Title = new TableTitle(Markup.Escape(table.Title)), Border = TableBorder.Ascii };
        foreach (var c in table.Columns) t.AddColumn(Markup.Escape(c));
        foreach (var row in table.Rows) t.AddRow(row.Select(Markup.Escape).ToArray());
        console.Write(t);
        foreach (var note in table.Notes) output.WriteLine("  " + note);
        output.WriteLine();
    }

    public string ToMarkdown()
    {
        var md = new StringBuilder();
        foreach (var line in Header) md.Append(line).Append('\n');
        foreach (var table in Tables)
        {
            md.Append('\n').Append("#### ").Append(table.Title).Append("\n\n");
            md.Append("| ").Append(string.Join(" | ", table.Columns.Select(Cell))).Append(" |\n");
            md.Append('|').Append(string.Concat(table.Columns.Select(_ => " --- |"))).Append('\n');
            foreach (var row in table.Rows) md.Append("| ").Append(string.Join(" | ", row.Select(Cell))).Append(" |\n");
            if (table.Notes.Count > 0) md.Append('\n');
            foreach (var note in table.Notes) md.Append(note).Append('\n');
        }
        return md.ToString();
    }

    private static string Cell(string text) => text.Replace("|", "\\|");

    /// <summary>Replaces the generated section of <paramref name="path"/> (appends one when the file
    /// has none, creates the file when there is none).</summary>
    public void WriteInto(string path)
    {
        var generated = BeginMarker + "\n" + ToMarkdown() + EndMarker + "\n";
        var text = File.Exists(path) ? File.ReadAllText(path) : "";
        int start = text.IndexOf(BeginMarker, StringComparison.Ordinal);
        int end = text.IndexOf(EndMarker, StringComparison.Ordinal);
        if (start >= 0 && end > start)
        {
            int after = end + EndMarker.Length;
            if (after < text.Length && text[after] == '\n') after++;
            text = text[..start] + generated + text[after..];
        }
        else
        {
            text = text.Length == 0 ? generated : text.TrimEnd('\n') + "\n\n" + generated;
        }
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        File.WriteAllText(path, text);
    }
}
