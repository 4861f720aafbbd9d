package check

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) spent so far by this process
// and by the processes it started and what they started in turn: the
// test's own PostgreSQL server (pgtest) and its backends. A benchmark
// that divides its difference by b.N has a figure that a shared, noisy
// machine moves less than leads/s: time on a core, not time waiting for
// one. Linux only (/proc); elsewhere it counts this process alone.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	total := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	parents := map[int]bool{os.Getpid(): true}
	// Two levels below this process: the postmaster and its backends. A
	// process's own ticks plus those of the children it has waited for
	// (a backend that ended) are counted at the process.
	for range 2 {
		children := map[int]bool{}
		for pid, st := range procStats() {
			if parents[st.ppid] {
				children[pid] = true
				total += st.cpu
			}
		}
		parents = children
	}
	return total
}

type procStat struct {
	ppid int
	cpu  time.Duration // utime + stime + cutime + cstime
}

// procStats reads /proc/<pid>/stat of every process.
func procStats() map[int]procStat {
	out := map[int]procStat{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range dirs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		s := string(b)
		end := strings.LastIndexByte(s, ')') // the command may hold spaces
		if end < 0 {
			continue
		}
		f := strings.Fields(s[end+1:]) // f[0] is field 3 (state)
		if len(f) < 15 {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
		ppid, _ := strconv.Atoi(f[1])
		var ticks int64
		for _, i := range []int{11, 12, 13, 14} { // fields 14-17
			n, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += n
		}
		out[pid] = procStat{ppid: ppid, cpu: time.Duration(ticks) * (time.Second / 100)} // USER_HZ
	}
	return out
}
