// Package faulttest holds the fault-injection suite: gateway processes,
// Redis, the MongoDB wire server (TestFaults) and a private PostgreSQL
// server (TestFaultsPostgresRestart) under faults, with clients that check
// the delivery promise. This file: a TCP proxy that can cut a connection
// path for a while (the database "unreachable") or slow it down (the
// database overloaded).
package faulttest

import (
	"io"
	"net"
	"sync"
	"time"
)

// Proxy forwards TCP connections from a loopback port to a target.
type Proxy struct {
	Addr   string
	target string
	l      net.Listener

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	cutUntil time.Time
	slowTill time.Time
	delay    time.Duration
	closed   bool
}

// NewProxy listens on 127.0.0.1:0 and forwards to target.
func NewProxy(target string) (*Proxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: l.Addr().String(), target: target, l: l, conns: map[net.Conn]struct{}{}}
	go p.accept()
	return p, nil
}

func (p *Proxy) accept() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := time.Now().Before(p.cutUntil) || p.closed
		p.mu.Unlock()
		if cut {
			c.Close()
			continue
		}
		go p.pipe(c)
	}
}

func (p *Proxy) pipe(c net.Conn) {
	u, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[u] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn, delayed bool) {
		if delayed {
			_, _ = io.Copy(dst, delayedReader{p, src})
		} else {
			_, _ = io.Copy(dst, src)
		}
		done <- struct{}{}
	}
	go cp(u, c, true) // requests to the database wait while it is "slow"
	go cp(c, u, false)
	<-done
	c.Close()
	u.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

// Cut drops every open connection and refuses new ones for d.
func (p *Proxy) Cut(d time.Duration) {
	p.mu.Lock()
	p.cutUntil = time.Now().Add(d)
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
}

// Slow delays every chunk sent to the target by delay, for d: a database
// whose every operation takes that much longer.
func (p *Proxy) Slow(d, delay time.Duration) {
	p.mu.Lock()
	p.slowTill, p.delay = time.Now().Add(d), delay
	p.mu.Unlock()
}

// delayedReader reads from r, waiting the proxy's delay after each read
// while the proxy is slow.
type delayedReader struct {
	p *Proxy
	r io.Reader
}

func (d delayedReader) Read(b []byte) (int, error) {
	n, err := d.r.Read(b)
	d.p.mu.Lock()
	slow, delay := time.Now().Before(d.p.slowTill), d.p.delay
	d.p.mu.Unlock()
	if slow && n > 0 {
		time.Sleep(delay)
	}
	return n, err
}

// Close stops the proxy.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.l.Close()
}
