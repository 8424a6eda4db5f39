/* The tool's pictures: hand-written SVG (no dependency), each written into
 * the temporary file of a staged output (tool_outputs_stage), which the
 * command renames into place with its other outputs. */
#include "tool.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- file and text ---- */

typedef struct svg {
    FILE *f;
    const char *path;
} svg;

static bool svg_open(svg *s, const char *path, double w, double h)
{
    s->path = path;
    s->f = fopen(path, "w");
    if (!s->f) {
        tool_error("%s: cannot write the picture: %s", path, strerror(errno));
        return false;
    }
    fprintf(s->f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"11\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            w, h, w, h);
    return true;
}

static bool svg_close(svg *s)
{
    fputs("</svg>\n", s->f);
    bool ok = !ferror(s->f);
    errno = 0;
    ok = fclose(s->f) == 0 && ok;
    if (!ok)
        tool_error("%s: cannot write the picture: %s", s->path,
                   errno ? strerror(errno) : "write error");
    return ok;
}

/* Text content with XML's special characters escaped, cut to `max` bytes
 * (with "..." marking the cut, never inside a UTF-8 sequence). */
static void svg_text(FILE *f, const char *s, size_t max)
{
    size_t n = strlen(s);
    size_t keep = n <= max ? n : max > 3 ? max - 3 : 0;
    while (keep < n && keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
        keep--;
    for (size_t k = 0; k < keep; k++) {
        char c = s[k];
        if (c == '<')
            fputs("&lt;", f);
        else if (c == '>')
            fputs("&gt;", f);
        else if (c == '&')
            fputs("&amp;", f);
        else if (c == '"')
            fputs("&quot;", f);
        else if ((unsigned char)c >= 0x20)
            fputc(c, f);
    }
    if (keep < n)
        fputs("...", f);
}

/* A step of 1, 2 or 5 times a power of ten giving about `ticks` ticks. */
static double nice_step(double range, int ticks)
{
    if (!(range > 0))
        return 1;
    double raw = range / ticks, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

/* ---- bar chart ---- */

bool tool_plot_bars(const char *path, const char *title, const tool_bar *bars, int64_t n)
{
    const double left = 290, width = 460, right = 170, top = 46, row = 20;
    double h = top + row * (double)(n ? n : 1) + 44, w = left + width + right;
    double vmax = 0;
    for (int64_t k = 0; k < n; k++)
        vmax = isfinite(bars[k].value) && bars[k].value > vmax ? bars[k].value : vmax;
    double step = nice_step(vmax > 0 ? vmax : 1, 5);
    double xmax = ceil((vmax > 0 ? vmax : 1) / step) * step;
    svg s;
    if (!svg_open(&s, path, w, h))
        return false;
    FILE *f = s.f;
    fputs("<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">", f);
    svg_text(f, title, 110);
    fputs("</text>\n", f);
    fprintf(f, "<g class=\"panel\">\n");
    double bottom = top + row * (double)n;
    /* Grid and the value axis at the bottom. */
    for (double t = 0; t <= xmax * 1.0001; t += step) {
        double x = left + width * t / xmax;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                x, top - 4, x, bottom);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", x,
                bottom + 14, t);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">relative error "
               "||W-Wa|| / ||W||</text>\n",
            left + width / 2, bottom + 32);
    for (int64_t k = 0; k < n; k++) {
        double y = top + row * (double)k, v = isfinite(bars[k].value) ? bars[k].value : 0;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", left - 6, y + 14);
        svg_text(f, *bars[k].name ? bars[k].name : "(array)", 44);
        fprintf(f, "</text>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                   "fill=\"#4878a8\"/>\n",
                left, y + 3, width * v / xmax, row - 6);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%.4f  ", left + width * v / xmax + 4, y + 14,
                bars[k].value);
        svg_text(f, bars[k].label ? bars[k].label : "", 24);
        fputs("</text>\n", f);
    }
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", left,
            top - 4, left, bottom);
    fputs("</g>\n", f);
    return svg_close(&s);
}

/* ---- Pareto panels ---- */

typedef struct frame {
    double x, y, w, h;         /* plot area on the page */
    double xmax, ymax;         /* data range: [0, xmax] x [0, ymax] */
} frame;

static double fx(const frame *r, double v) { return r->x + r->w * (v / r->xmax); }
static double fy(const frame *r, double v)
{
    return r->y + r->h - r->h * (v > r->ymax ? r->ymax : v) / r->ymax;
}

/* A panel's frame, grid, ticks and axis labels. */
static void axes(FILE *f, const frame *r, const char *xlabel, const char *ylabel)
{
    double xs = nice_step(r->xmax, 4), ys = nice_step(r->ymax, 4);
    for (double t = 0; t <= r->xmax * 1.0001; t += xs) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n",
                fx(r, t), r->y, fx(r, t), r->y + r->h);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", fx(r, t),
                r->y + r->h + 13, t);
    }
    for (double t = 0; t <= r->ymax * 1.0001; t += ys) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n",
                r->x, fy(r, t), r->x + r->w, fy(r, t));
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", r->x - 4,
                fy(r, t) + 4, t);
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"black\"/>\n",
            r->x, r->y, r->w, r->h);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", r->x + r->w / 2,
            r->y + r->h + 28, xlabel);
    fprintf(f, "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" text-anchor=\"middle\">%s"
               "</text>\n",
            r->x - 34, r->y + r->h / 2, ylabel);
}

static void budget_line(FILE *f, const frame *r, double budget)
{
    if (!(budget <= r->ymax))
        return;
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e08000\" "
               "stroke-dasharray=\"5,3\"/>\n",
            r->x, fy(r, budget), r->x + r->w, fy(r, budget));
    /* Labelled at the left: cheap candidates there have large errors, so the
     * space just above the budget is usually free. */
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#e08000\">budget %g</text>\n", r->x + 3,
            fy(r, budget) - 3, budget);
}

enum { PANEL_W = 330, PANEL_H = 250, COLS = 3 };

static frame panel_frame(int64_t k, double xmax, double ymax)
{
    frame r = {.x = (double)(k % COLS) * PANEL_W + 56, .y = (double)(k / COLS) * PANEL_H + 84,
               .w = PANEL_W - 80, .h = PANEL_H - 80, .xmax = xmax, .ymax = ymax};
    return r;
}

static void config_text(const tasd_search_point *p, char *buf, size_t size)
{
    char w[100] = "none", a[100] = "none";
    const tasd_config *cw = p->config ? tasd_layer_config_weights(p->config) : NULL;
    const tasd_config *ca = p->config ? tasd_layer_config_activations(p->config) : NULL;
    if (cw)
        tasd_config_format(cw, w, sizeof w, NULL);
    if (ca)
        tasd_config_format(ca, a, sizeof a, NULL);
    if (!cw && !ca)
        snprintf(buf, size, "dense");
    else
        snprintf(buf, size, "%s%s%s%s", cw ? "W=" : "", cw ? w : "", ca ? " A=" : "",
                 ca ? a : "");
}

bool tool_plot_pareto(const char *path, const char *title, const tool_pareto_layer *layers,
                      int64_t n, double budget)
{
    int64_t panels = n + 1;
    double w = COLS * PANEL_W, h = (double)((panels + COLS - 1) / COLS) * PANEL_H + 64;
    svg s;
    if (!svg_open(&s, path, w, h))
        return false;
    FILE *f = s.f;
    fputs("<text x=\"10\" y=\"22\" font-size=\"14\" font-weight=\"bold\">", f);
    svg_text(f, title, 140);
    fputs("</text>\n<text x=\"10\" y=\"40\" fill=\"#555\">grey: candidates; blue line: "
          "Pareto front; red circle: choice; orange dashes: budget; last panel: each tensor's "
          "choice (blue), the model, FLOP-weighted (red ring)</text>\n",
          f);
    double flops = 0, tot_cost = 0, tot_err = 0, cmax = 1, emax = budget;
    for (int64_t l = 0; l < n; l++)
        flops += tasd_layer_search_flops(layers[l].search);
    for (int64_t l = 0; l < n; l++) {
        const tasd_layer_search *ls = layers[l].search;
        tasd_search_point ch = {.size = sizeof ch, .cost = 1};
        if (layers[l].choice >= 0)
            tasd_layer_search_front(ls, layers[l].choice, &ch);
        else
            tasd_layer_search_choice(ls, &ch);
        double wl = flops > 0 ? tasd_layer_search_flops(ls) / flops : 0;
        tot_cost += wl * ch.cost;
        tot_err += wl * ch.error;
        emax = ch.error > emax ? ch.error : emax;

        /* Range: every candidate, the errors capped at 1 (a worse point
         * says nothing more and would squash the front). */
        double xmax = 1, ymax = budget;
        int nc = tasd_layer_search_candidates(ls);
        for (int c = 0; c < nc; c++) {
            tasd_search_point p = {.size = sizeof p};
            if (tasd_layer_search_candidate(ls, c, &p) == TASD_OK) {
                xmax = p.cost > xmax ? p.cost : xmax;
                ymax = p.error > ymax ? p.error : ymax;
            }
        }
        cmax = xmax > cmax ? xmax : cmax;
        ymax = ymax > 1 ? 1 : ymax;
        ymax = ymax > 0 ? ymax * 1.08 : 1;
        frame r = panel_frame(l, xmax * 1.05, ymax);
        fputs("<g class=\"panel\" data-layer=\"", f);
        svg_text(f, layers[l].name, 255);
        fputs("\">\n", f);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"bold\">", r.x - 40, r.y - 20);
        svg_text(f, layers[l].name, 46);
        char ct[220];
        config_text(&ch, ct, sizeof ct);
        fprintf(f, "</text>\n<text x=\"%.1f\" y=\"%.1f\" fill=\"#c00000\">chosen ", r.x - 40,
                r.y - 6);
        svg_text(f, ct, 38);
        fprintf(f, ": error %.3f, cost %.3f</text>\n", ch.error, ch.cost);
        axes(f, &r, "predicted cost (dense = 1)", "relative error");
        for (int c = 0; c < nc; c++) {
            tasd_search_point p = {.size = sizeof p};
            if (tasd_layer_search_candidate(ls, c, &p) == TASD_OK)
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"#999\"/>\n",
                        fx(&r, p.cost), fy(&r, p.error));
        }
        fputs("<polyline fill=\"none\" stroke=\"#2060c0\" stroke-width=\"1.5\" points=\"", f);
        int nf = tasd_layer_search_front_size(ls);
        for (int k = 0; k < nf; k++) {
            tasd_search_point p = {.size = sizeof p};
            if (tasd_layer_search_front(ls, k, &p) == TASD_OK)
                fprintf(f, "%s%.1f,%.1f", k ? " " : "", fx(&r, p.cost), fy(&r, p.error));
        }
        fputs("\"/>\n", f);
        budget_line(f, &r, budget);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"none\" stroke=\"#c00000\" "
                   "stroke-width=\"2\"/>\n</g>\n",
                fx(&r, ch.cost), fy(&r, ch.error));
    }
    /* The model: each layer's chosen point, and the FLOP-weighted total. */
    double ymax = emax > 1 ? 1 : emax;
    frame r = panel_frame(n, cmax * 1.05, ymax > 0 ? ymax * 1.15 : 1);
    fputs("<g class=\"summary\">\n", f);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"bold\">whole model (%lld layers)"
               "</text>\n<text x=\"%.1f\" y=\"%.1f\" fill=\"#c00000\">red ring: cost %.3f "
               "(speed-up %.2fx), error %.3f</text>\n",
            r.x - 40, r.y - 20, (long long)n, r.x - 40, r.y - 6, tot_cost,
            tot_cost > 0 ? 1 / tot_cost : 0.0, tot_err);
    axes(f, &r, "predicted cost (dense = 1)", "relative error");
    budget_line(f, &r, budget);
    /* A ring, drawn first: the largest layer's point often sits inside it. */
    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"7\" fill=\"none\" stroke=\"#c00000\" "
               "stroke-width=\"2.5\"/>\n",
            fx(&r, tot_cost), fy(&r, tot_err));
    for (int64_t l = 0; l < n; l++) {
        tasd_search_point ch = {.size = sizeof ch, .cost = 1};
        if (layers[l].choice >= 0)
            tasd_layer_search_front(layers[l].search, layers[l].choice, &ch);
        else
            tasd_layer_search_choice(layers[l].search, &ch);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#2060c0\"><title>",
                fx(&r, ch.cost), fy(&r, ch.error));
        svg_text(f, layers[l].name, 255);
        fputs("</title></circle>\n", f);
    }
    fputs("</g>\n", f);
    return svg_close(&s);
}
