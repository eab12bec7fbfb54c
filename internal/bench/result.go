package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// Result is what a run measured; cmd/imbench prints it and writes it as
// JSON.
type Result struct {
	Scenario  string    `json:"scenario"`
	RampOf    string    `json:"ramp_of,omitempty"`
	StartedAt time.Time `json:"started_at"`
	Machine   Machine   `json:"machine"`
	LoadAvg   string    `json:"loadavg_at_end"` // other work on the machine shows here
	Setup     Setup     `json:"setup"`

	Connections     int     `json:"connections"`
	ConnectFailures int     `json:"connect_failures"`
	ConnectSeconds  float64 `json:"connect_seconds"` // idle: the batches' time, without the pauses for RSS samples
	Disconnects     int     `json:"disconnects"`

	Sent        int64   `json:"sent"`
	Acked       int64   `json:"acked"`
	SendErrors  int64   `json:"send_errors"` // error frames answering sends
	Retries     int64   `json:"retries"`
	Failed      int64   `json:"failed"`     // sends given up (non-retryable error or too many tries)
	Unanswered  int64   `json:"unanswered"` // sends with neither ack nor error at the end
	Delivered   int64   `json:"delivered"`  // message frames received live (own echoes included)
	Required    int64   `json:"required"`   // deliveries of acked messages to the other members
	Lost        int64   `json:"lost"`       // of Required, never received (after grace and sync)
	Duplicated  int64   `json:"duplicated"`
	OutOfOrder  int64   `json:"out_of_order"`
	Mismatched  int64   `json:"mismatched"` // content differing from the ack, or two messages under one seq
	Recovered   int64   `json:"recovered_by_sync"`
	MissedLive  int64   `json:"missed_live"` // missing after the grace period, before sync
	WindowS     float64 `json:"window_s"`
	SentPerS    float64 `json:"sent_per_s"`
	AckedPerS   float64 `json:"acked_per_s"`
	DeliveredPS float64 `json:"deliveries_per_s"`

	// HeldByClient is the part of Unanswered that waited in the clients'
	// send windows (never written, or refused and not yet retried).
	HeldByClient int64 `json:"held_by_client,omitempty"`
	// LateAcks are acks that came after the books closed (the drain's
	// end): stored messages, counted in neither Acked nor Unanswered.
	LateAcks int64 `json:"late_acks,omitempty"`
	// AnswerLatency is from writing a send frame (each attempt) to its
	// answer, ack or error: how soon a sender hears back.
	AnswerLatency Percentiles `json:"answer_latency"`

	// Receipts: the read-receipt storm (scenario receipts).
	Receipts *ReceiptsResult `json:"receipts,omitempty"`

	DeliverLatency Percentiles `json:"deliver_latency"` // send (intended time) to delivery at another member
	AckLatency     Percentiles `json:"ack_latency"`     // send (intended time) to ack

	GatewayRSS         int64   `json:"gateway_rss_bytes"`
	GatewayRSSBaseline int64   `json:"gateway_rss_baseline_bytes"`
	RSSPerConn         float64 `json:"rss_per_conn_bytes"`       // (RSS - baseline) / connections
	RSSTotalPerConn    float64 `json:"rss_total_per_conn_bytes"` // RSS / connections
	GatewayHeapInuse   int64   `json:"gateway_heap_inuse_bytes,omitempty"`
	GatewayStackInuse  int64   `json:"gateway_stack_inuse_bytes,omitempty"`
	GatewayCPU         float64 `json:"gateway_cpu_cores"` // average over the window, in cores
	RedisCPU           float64 `json:"redis_cpu_cores,omitempty"`
	// RedisTopology is the embedded Redis (single or cluster), and
	// RedisShards what each of its servers did in the window.
	RedisTopology string       `json:"redis_topology,omitempty"`
	RedisShards   []RedisShard `json:"redis_shards,omitempty"`
	// Bus is the gateways' bus counters at the end of the run, summed over
	// the nodes (they start with the run when embedded): channels
	// subscribed and unsubscribed (im_gateway_bus_channel_changes_total,
	// the churn) and messages published and received per Redis shard
	// (im_gateway_bus_published_total, im_gateway_bus_received_total).
	Bus       map[string]float64 `json:"bus,omitempty"`
	ToolCPU   float64            `json:"tool_cpu_cores"`
	ToolRSS   int64              `json:"tool_rss_bytes"`
	InProcess bool               `json:"gateways_in_process,omitempty"` // RSS/CPU include the load clients
	RSSCurve  []RSSPoint         `json:"rss_curve,omitempty"`

	// history: pages of PageSize read over REST, one at a time
	Pages       int64       `json:"pages,omitempty"`
	PageErrors  int64       `json:"page_errors,omitempty"` // failed requests or wrong pages
	PagesPerS   float64     `json:"pages_per_s,omitempty"`
	PageLatency Percentiles `json:"page_latency,omitzero"`

	// presence: the steady and churn windows
	Presence *PresenceResult `json:"presence,omitempty"`

	Steps       []StepResult `json:"steps,omitempty"`
	MaxGoodRate float64      `json:"max_good_rate,omitempty"` // ramp: highest step within the bounds
	Timeline    []Second     `json:"timeline,omitempty"`

	Errors []string `json:"errors,omitempty"`
	OK     bool     `json:"ok"`
}

// Setup records the parameters of the run.
type Setup struct {
	Gateways   []string `json:"gateways"`
	Embedded   bool     `json:"embedded"`
	Spawned    bool     `json:"spawned"`
	Store      string   `json:"store"`
	N          int      `json:"n"`
	Group      int      `json:"group,omitempty"`
	Rooms      int      `json:"rooms"`
	Publishers int      `json:"publishers,omitempty"`
	Rate       float64  `json:"rate"`
	DurationS  float64  `json:"duration_s"`
	BodySize   int      `json:"body_size"`
	SourceIPs  []string `json:"source_ips,omitempty"`
	SeedS      float64  `json:"seed_s"`
	SeedDocs   int64    `json:"seed_docs"`
	MintS      float64  `json:"mint_s"`
	Command    string   `json:"command,omitempty"`
	Target     string   `json:"target,omitempty"`      // standalone
	SQLiteSync string   `json:"sqlite_sync,omitempty"` // standalone on sqlite
	Messages   int      `json:"messages,omitempty"`    // history: stored in the room
	Client     string   `json:"client,omitempty"`      // sdk: the users are Go SDK clients
}

// RSSPoint is the gateways' RSS at a number of connections.
type RSSPoint struct {
	Conns      int     `json:"conns"`
	RSS        int64   `json:"rss_bytes"`
	PerConn    float64 `json:"per_conn_bytes"` // (RSS - baseline) / conns
	HeapInuse  int64   `json:"heap_inuse_bytes,omitempty"`
	StackInuse int64   `json:"stack_inuse_bytes,omitempty"`
}

// StepResult is one ramp step.
type StepResult struct {
	Rate           float64     `json:"rate"` // offered messages/s
	Sent           int64       `json:"sent"`
	Acked          int64       `json:"acked"`
	Errors         int64       `json:"errors"`
	DeliveredPS    float64     `json:"deliveries_per_s"` // arrivals during the step
	AckedPS        float64     `json:"acked_per_s"`
	DeliverLatency Percentiles `json:"deliver_latency"`
	AckLatency     Percentiles `json:"ack_latency"`
	GatewayCPU     float64     `json:"gateway_cpu_cores"`
	Pass           bool        `json:"pass"`
}

// Second is one progress sample.
type Second struct {
	T         float64 `json:"t"`
	Conns     int     `json:"conns"`
	Sent      int64   `json:"sent"`
	Acked     int64   `json:"acked"`
	Delivered int64   `json:"delivered"`
	RSS       int64   `json:"gateway_rss_bytes"`
	CPU       float64 `json:"gateway_cpu_cores"`
}

// WriteJSON writes r to path.
func (r *Result) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadResult reads a result written by WriteJSON.
func ReadResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	return &r, json.Unmarshal(b, &r)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func kib(b float64) string { return fmt.Sprintf("%.2f KiB", b/1024) }

func lat(p Percentiles) string {
	if p.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  max %.2f ms  (n=%d)",
		p.P50MS, p.P90MS, p.P99MS, p.P999MS, p.MaxMS, p.Count)
}

// PrintText writes the summary.
func (r *Result) PrintText(w io.Writer) {
	p := func(f string, a ...any) { fmt.Fprintf(w, f+"\n", a...) }
	name := r.Scenario
	if r.RampOf != "" {
		name += " of " + r.RampOf
	}
	p("")
	p("=== imbench %s: summary ===", name)
	p("machine        %d CPUs (%s), %d MiB, %s; load average %s at start, %s at end", r.Machine.NProc, r.Machine.CPUModel,
		r.Machine.MemTotalMB, r.Machine.GoVersion, r.Machine.LoadAvg, r.LoadAvg)
	where := "external"
	if r.Setup.Embedded {
		where = "embedded, in-process gateways"
		if r.Setup.Spawned {
			where = "embedded, gateways as child processes"
		}
	}
	if r.Setup.Embedded {
		where += ", store " + r.Setup.Store
	}
	if r.Setup.Target == TargetStandalone {
		where = "standalone, store " + r.Setup.Store
		if r.Setup.SQLiteSync != "" {
			where += " synchronous=" + r.Setup.SQLiteSync
		}
		where += map[bool]string{true: ", child process", false: ", in process"}[r.Setup.Spawned]
	}
	if r.Setup.Client == ClientSDK {
		where += ", users on the Go SDK"
	}
	p("gateways       %d (%s)", len(r.Setup.Gateways), where)
	if rc := r.Receipts; rc != nil {
		p("read storm     %.0f reads/s offered; %d read frames sent, %d refused", rc.ReadRate, rc.ReadsSent, rc.ReadErrors)
		p("read_counts    %d events at the sender, shortest gap %.0f ms; %d of %d messages shown read by all; over-counted %d",
			rc.Events, rc.MinGapMS, rc.FullyRead, rc.Messages, rc.OverCounted)
		p("full read      %s (send to the event showing every member read it)", lat(rc.FullReadLatency))
	}
	if r.Scenario == ScenarioHistory {
		p("history        %d messages in the room; %d pages read (%.0f/s), %d errors", r.Setup.Messages, r.Pages, r.PagesPerS, r.PageErrors)
		p("page latency   %s", lat(r.PageLatency))
	} else {
		p("connections    %d (failed %d, disconnected %d) in %.1fs", r.Connections, r.ConnectFailures, r.Disconnects, r.ConnectSeconds)
	}
	if pr := r.Presence; pr != nil {
		for _, w := range []struct {
			name string
			w    PresenceWindow
		}{{"steady", pr.Steady}, {"churn", pr.Churn}} {
			p("presence %-6s %.1fs, %d conns, %d churn cycles (%.1f/s, %d failed, away %.1fs): Redis %d commands = %.2f per connection per minute (script calls %.2f) %v; gateway CPU %.3f cores = %.3f per 10k conns; Redis CPU %.3f cores",
				w.name, w.w.WindowS, w.w.Connections, w.w.Cycles, w.w.CyclesPerS, w.w.CycleErrors, pr.AwayS, w.w.RedisCalls,
				w.w.RedisCallsPerConnMin, w.w.ScriptCallsPerConnMin, w.w.RedisCallsByCmd, w.w.GatewayCPU, w.w.GatewayCPUPer10k, w.w.RedisCPU)
		}
	}
	if r.Scenario != ScenarioIdle && r.Scenario != ScenarioHistory && r.Scenario != ScenarioPresence {
		p("sent           %d (%.0f/s over %.1fs), retries %d", r.Sent, r.SentPerS, r.WindowS, r.Retries)
		p("acked          %d (%.0f/s), error answers %d, failed %d, unanswered %d (of which held by the clients' send windows %d)", r.Acked, r.AckedPerS, r.SendErrors, r.Failed, r.Unanswered, r.HeldByClient)
		p("delivered      %d live (%.0f deliveries/s); required %d", r.Delivered, r.DeliveredPS, r.Required)
		p("lost           %d   duplicated %d   out of order %d   mismatched %d   (missed live %d, recovered by sync %d)",
			r.Lost, r.Duplicated, r.OutOfOrder, r.Mismatched, r.MissedLive, r.Recovered)
		p("deliver lat.   %s", lat(r.DeliverLatency))
		p("ack latency    %s", lat(r.AckLatency))
		p("answer latency %s  (a written send frame to its ack or error; late acks %d)", lat(r.AnswerLatency), r.LateAcks)
	}
	note := ""
	if r.InProcess {
		note = "  [in-process: includes the load clients and the store]"
	}
	p("gateway RSS    %s (baseline %s): %s/conn over baseline, %s/conn total%s",
		mib(r.GatewayRSS), mib(r.GatewayRSSBaseline), kib(r.RSSPerConn), kib(r.RSSTotalPerConn), note)
	if r.GatewayHeapInuse > 0 {
		p("gateway heap   %s in use, stacks %s", mib(r.GatewayHeapInuse), mib(r.GatewayStackInuse))
	}
	p("gateway CPU    %.2f cores%s; redis %.2f; load tool %.2f cores, RSS %s", r.GatewayCPU, note, r.RedisCPU, r.ToolCPU, mib(r.ToolRSS))
	printRedisShards(p, r.RedisShards)
	if len(r.Bus) > 0 {
		keys := make([]string, 0, len(r.Bus))
		for k := range r.Bus {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s=%.0f", strings.TrimPrefix(k, "im_gateway_bus_"), r.Bus[k]))
		}
		p("bus (gateways) %s", strings.Join(parts, " "))
	}
	if len(r.RSSCurve) > 0 {
		var parts []string
		for _, pt := range r.RSSCurve {
			parts = append(parts, fmt.Sprintf("%d:%.0fB", pt.Conns, pt.PerConn))
		}
		p("RSS/conn curve %s", strings.Join(parts, " "))
	}
	if len(r.Steps) > 0 {
		p("steps:")
		p("  %9s %9s %12s %10s %10s %10s %7s %5s", "rate", "acked/s", "deliveries/s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "pass")
		for _, s := range r.Steps {
			l := s.DeliverLatency
			if l.Count == 0 {
				l = s.AckLatency
			}
			p("  %9.0f %9.0f %12.0f %10.2f %10.2f %10.2f %7d %5v", s.Rate, s.AckedPS, s.DeliveredPS, l.P50MS, l.P99MS, l.P999MS, s.Errors, s.Pass)
		}
		p("max good rate  %.0f msgs/s", r.MaxGoodRate)
	}
	for _, e := range r.Errors {
		p("error          %s", e)
	}
	if r.OK {
		p("result         OK")
	} else {
		p("")
		p("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!")
		p("!!! FAILED: %d acked messages lost, %d duplicated, %d out of order, %d mismatched", r.Lost, r.Duplicated, r.OutOfOrder, r.Mismatched)
		p("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!")
	}
}
