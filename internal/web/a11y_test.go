package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// The accessibility audit (issue #19): axe-core, vendored under
// testdata/axe (see its README), runs in the pages the browser tests
// already have open, in light and in dark mode, at every view they reach.

// axeVersion is the vendored axe-core; the audit checks that the page runs
// this one.
const axeVersion = "4.10.3"

var axeSource = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile("testdata/axe/axe.min.js")
	if err != nil {
		return "", fmt.Errorf("reading the vendored axe-core: %w", err)
	}
	return string(b), nil
})

// axeEnforced are the rules below "serious" that the client keeps at zero
// too: one main landmark, a level-one heading, headings in order, roles
// allowed on their elements.
var axeEnforced = map[string]bool{
	"landmark-one-main":          true,
	"landmark-no-duplicate-main": true,
	"page-has-heading-one":       true,
	"heading-order":              true,
	"aria-allowed-role":          true,
	"empty-heading":              true,
}

// axeRun runs axe on the document: WCAG 2.0/2.1 A and AA and the best
// practices, plus the (experimental) check that a control's accessible
// name contains its visible text. It returns the violations as JSON.
const axeRun = `axe.run(document, {
  runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
  rules: {'label-content-name-mismatch': {enabled: true}},
  resultTypes: ['violations'],
}).then((r) => JSON.stringify(r.violations.map((v) => ({
  id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
  nodes: v.nodes.map((n) => ({target: n.target.join(' '), html: n.html.slice(0, 300), summary: n.failureSummary})),
}))))`

type axeViolation struct {
	ID      string `json:"id"`
	Impact  string `json:"impact"`
	Help    string `json:"help"`
	HelpURL string `json:"helpUrl"`
	Nodes   []struct {
		Target  string `json:"target"`
		HTML    string `json:"html"`
		Summary string `json:"summary"`
	} `json:"nodes"`
}

// emulateScheme sets prefers-color-scheme ("dark", "light"; "" is the
// browser's own) with prefers-reduced-motion, so no colour is caught in a
// transition.
func (p *page) emulateScheme(v string) {
	p.t.Helper()
	params := emulation.SetEmulatedMediaParams{}
	if v != "" {
		params.Features = []*emulation.MediaFeature{
			{Name: "prefers-color-scheme", Value: v},
			{Name: "prefers-reduced-motion", Value: "reduce"},
		}
	}
	p.cdp(fmt.Sprintf("emulate %q", v), func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, params)
		return err
	})
}

// audit runs axe-core on the view the page shows now, in light and in dark
// mode, and fails the test (going on with it) on every serious or critical
// violation and every violation of axeEnforced, naming the rule, the
// elements and the help.
func (p *page) audit(view string) {
	p.t.Helper()
	src, err := axeSource()
	if err != nil {
		p.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	// Injected through the protocol (not a <script>): the page's CSP stays
	// as it is. Once per document.
	ver, err := chromedp.Run(ctx, chromedp.Evaluate[string](`typeof axe === 'undefined' ? '' : axe.version`))
	if err != nil {
		p.fail("audit %s: %v", view, err)
	}
	if ver == "" {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](src+"\n;true")); err != nil {
			p.fail("audit %s: injecting axe-core: %v", view, err)
		}
		if ver, err = chromedp.Run(ctx, chromedp.Evaluate[string](`axe.version`)); err != nil {
			p.fail("audit %s: %v", view, err)
		}
	}
	if ver != axeVersion {
		p.t.Fatalf("audit %s: axe-core %s in the page, want %s", view, ver, axeVersion)
	}
	for _, scheme := range []string{"light", "dark"} {
		p.emulateScheme(scheme)
		// Two frames: the new colours are painted.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(() => ok(true))))`, chromedp.EvalAwaitPromise)); err != nil {
			p.fail("audit %s: %v", view, err)
		}
		out, err := chromedp.Run(ctx, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
		if err != nil {
			p.emulateScheme("")
			p.fail("audit %s (%s): %v", view, scheme, err)
		}
		var vs []axeViolation
		if err := json.Unmarshal([]byte(out), &vs); err != nil {
			p.t.Fatalf("audit %s: %v: %s", view, err, out)
		}
		for _, v := range vs {
			var b strings.Builder
			fmt.Fprintf(&b, "%s: %s mode: axe %s (%s): %s (%s)", p.name+"/"+view, scheme, v.ID, v.Impact, v.Help, v.HelpURL)
			for _, n := range v.Nodes {
				fmt.Fprintf(&b, "\n  at %s: %s\n    %s", n.Target, n.HTML, strings.ReplaceAll(n.Summary, "\n", "\n    "))
			}
			if v.Impact == "serious" || v.Impact == "critical" || axeEnforced[v.ID] {
				p.t.Error(b.String())
			} else {
				p.t.Log(b.String())
			}
		}
	}
	p.emulateScheme("")
}
