package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Proc is a process the tool watches: by pid (Linux /proc) or through a
// Prometheus /metrics URL (process_resident_memory_bytes,
// process_cpu_seconds_total, as client_golang's process collector exports).
type Proc struct {
	Name       string
	PID        int
	MetricsURL string
}

// Sample is a process's memory and CPU time at one moment.
type Sample struct {
	RSS       int64   // bytes
	CPU       float64 // seconds of CPU (user + system) since the start
	HeapInuse int64   // from /metrics when available
	Stack     int64
	OK        bool
}

// Read samples p.
func (p Proc) Read(ctx context.Context) Sample {
	var s Sample
	if p.PID > 0 {
		s.RSS = statusKB(p.PID, "VmRSS:") * 1024
		s.CPU = procCPU(p.PID)
		s.OK = s.RSS > 0
	}
	if p.MetricsURL != "" {
		m := scrape(ctx, p.MetricsURL)
		if !s.OK {
			s.RSS = int64(m["process_resident_memory_bytes"])
			s.CPU = m["process_cpu_seconds_total"]
			s.OK = s.RSS > 0
		}
		s.HeapInuse = int64(m["go_memstats_heap_inuse_bytes"])
		s.Stack = int64(m["go_memstats_stack_inuse_bytes"])
	}
	return s
}

func statusKB(pid int, key string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, key) {
			fs := strings.Fields(line[len(key):])
			if len(fs) > 0 {
				n, _ := strconv.ParseInt(fs[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// procCPU is utime+stime of pid in seconds (clock ticks of 1/100 s, the
// USER_HZ of every Linux architecture Go supports).
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	fs := strings.Fields(string(b[i+1:]))
	if len(fs) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(fs[11], 64)
	st, _ := strconv.ParseFloat(fs[12], 64)
	return (ut + st) / 100
}

func readIntFile(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// scrape reads the unlabelled samples of a Prometheus text exposition.
// scrape reads a Prometheus text exposition into series → value; a
// labelled series is keyed by its full name, labels included
// (`name{op="subscribe"}`).
func scrape(ctx context.Context, url string) map[string]float64 {
	out := map[string]float64{}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return out
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return out
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(res.Body, 16<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		fs := strings.Fields(line)
		if len(fs) < 2 {
			continue
		}
		if v, err := strconv.ParseFloat(fs[1], 64); err == nil {
			out[fs[0]] = v
		}
	}
	return out
}

// Machine describes where a figure was measured.
type Machine struct {
	NProc      int    `json:"nproc"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	MemTotalMB int64  `json:"mem_total_mb"`
	CPUModel   string `json:"cpu_model"`
	GoVersion  string `json:"go_version"`
	Kernel     string `json:"kernel"`
	LoadAvg    string `json:"loadavg_at_start"`
}

// ThisMachine reads /proc for the machine's description.
func ThisMachine() Machine {
	m := Machine{NProc: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "MemTotal:") {
				fs := strings.Fields(line)
				if len(fs) >= 2 {
					kb, _ := strconv.ParseInt(fs[1], 10, 64)
					m.MemTotalMB = kb / 1024
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fs := strings.Fields(string(b))
		if len(fs) >= 3 {
			m.LoadAvg = strings.Join(fs[:3], " ")
		}
	}
	return m
}
