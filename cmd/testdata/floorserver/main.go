// Command floorserver is a minimal Go net/http server for
// BenchmarkTopRequestWakeUp: what a request woken from idleness costs any
// Go server on the machine, beside akidb's own requests. It prints its
// address, then serves {"status":"ok"} on every path.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
