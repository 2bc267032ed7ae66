/// A page for people — the intake report, the year simulation — in one self-contained file
/// (inline CSS and SVG, no external resources), in one look.
enum HTMLPage {
    /// What every page shares: type, tables, the small monthly charts, legends.
    static let baseStyle = """
        body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d2733; }
        h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
        p.meta { color: #5b6875; margin-top: 0; }
        svg text { font-size: 13px; fill: #1d2733; }
        th, td { padding: 0.35rem 0.7rem; border-bottom: 1px solid #e3e8ee; text-align: left; }
        td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
        figure.month { display: inline-block; margin: 0.5rem 1rem 0.5rem 0; } figure.month figcaption { font-size: 0.9rem; }
        line.axis { stroke: #9aa5b1; } polyline.plan { fill: none; stroke: #9aa5b1; stroke-width: 2; stroke-dasharray: 5 4; }
        .legend span { display: inline-block; width: 0.9rem; height: 0.9rem; vertical-align: middle; margin: 0 0.3rem 0 1rem; }
        """

    /// The whole document: `title` (escaped here), the shared style and the page's own, `body`
    /// (already HTML).
    static func document(title: String, style: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(IntakeReport.html(title))</title>
        <style>
        \(baseStyle)
        \(style)
        </style>
        </head>
        <body>
        \(body)
        </body>
        </html>

        """
    }
}
