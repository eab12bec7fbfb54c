package testenv

import (
	"context"
	"net/smtp"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func TestMain(m *testing.M) { Main(m) }

func TestRedisUp(t *testing.T) {
	opt, err := redis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Get(ctx, "k").Result(); v != "v" {
		t.Fatalf("got %q", v)
	}
}

func TestRedisRestart(t *testing.T) {
	s := NewRedisServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s.Kill()
	if err := redisPing("127.0.0.1:" + itoa(s.Port)); err == nil {
		t.Fatal("redis still answers after Kill")
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := redisPing("127.0.0.1:" + itoa(s.Port)); err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string { return fmtInt(i) }

func TestMongoUp(t *testing.T) {
	uri, db := MongoDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	coll := c.Database(db).Collection("x")
	if _, err := coll.InsertOne(ctx, bson.M{"_id": "a", "n": 1}); err != nil {
		t.Fatal(err)
	}
	var got bson.M
	if err := coll.FindOne(ctx, bson.M{"_id": "a"}).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got["n"] != int32(1) {
		t.Fatalf("got %v", got)
	}
}

func TestSMTPSink(t *testing.T) {
	s := NewSMTPSink(t)
	err := smtp.SendMail(s.Addr, nil, "a@example.com", []string{"b@example.com"},
		[]byte("Subject: hi\r\n\r\nyour code is 123456\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.WaitFor("b@example.com", 0, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m.Code() != "123456" {
		t.Fatalf("code %q in %q", m.Code(), m.Data)
	}
}

func fmtInt(i int) string { return strconv.Itoa(i) }
