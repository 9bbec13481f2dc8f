package bench

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"time"
)

// CPU is the processor time a round used: the whole machine's (every process, so a system under
// test running apart is included) and this process's.
type CPU struct {
	// MachineBusy is the share of all CPUs' time that was not idle during the round (0 to 1,
	// from /proc/stat; 0 where it is not available).
	MachineBusy float64 `json:"machineBusy"`
	// MachineCores is MachineBusy in cores (MachineBusy × the CPUs /proc/stat counts).
	MachineCores float64 `json:"machineCores"`
	// ProcessSeconds is this process's user + system CPU time during the round (the load
	// generator, and with --embedded the whole system under test).
	ProcessSeconds float64 `json:"processSeconds"`
}

// cpuSample is a reading of the CPU counters.
type cpuSample struct {
	at          time.Time
	busy, total uint64 // machine, in clock ticks
	cpus        int
	process     time.Duration
}

// readCPU reads the machine's and this process's CPU counters.
func readCPU() cpuSample {
	s := cpuSample{at: time.Now()}
	s.busy, s.total, s.cpus = readProcStat()
	s.process = processCPU()
	return s
}

// readProcStat returns the busy and total ticks of the "cpu" line of /proc/stat and the
// number of "cpuN" lines (zeros where /proc is not available).
func readProcStat() (busy, total uint64, cpus int) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) > 4 && fields[0] == "cpu":
			for i, v := range fields[1:] {
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					return 0, 0, 0
				}
				total += n
				if i != 3 && i != 4 { // idle and iowait
					busy += n
				}
			}
		case strings.HasPrefix(fields[0], "cpu"):
			cpus++
		}
	}
	return busy, total, cpus
}

// cpuSince is the CPU used between from and to.
func cpuSince(from, to cpuSample) CPU {
	c := CPU{ProcessSeconds: (to.process - from.process).Seconds()}
	if to.total > from.total && to.busy >= from.busy {
		c.MachineBusy = float64(to.busy-from.busy) / float64(to.total-from.total)
		c.MachineCores = c.MachineBusy * float64(to.cpus)
	}
	return c
}
