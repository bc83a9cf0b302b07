# bench/plot.gp
#	Claim cycles a second over time at 8 clients, one line per variant,
#	from bench/results/claim-rate.dat (written by bench/claim.sh: the long
#	run with BENCH_LONG=1, else the measured runs back to back).
#
# gnuplot -e "datafile='bench/results/claim-rate.dat'" \
#         -e "outfile='bench/results/claim-rate.png'" bench/plot.gp

if (!exists("datafile")) datafile = 'bench/results/claim-rate.dat'
if (!exists("outfile")) outfile = 'bench/results/claim-rate.png'

set terminal pngcairo size 960,540 noenhanced font ",11"
set output outfile
set title "Claim cycles/s at 8 clients (claim, planning, no_change, completed; 4 commits)"
set xlabel "second of measurement (runs back to back)"
set ylabel "cycles per second"
set yrange [0:*]
set grid
set key below
set datafile missing "nan"
plot datafile using 1:2 with lines lw 2 title "extension", \
     datafile using 1:3 with lines lw 2 title "bare UPDATE ... SKIP LOCKED", \
     datafile using 1:4 with lines lw 2 title "PL/pgSQL"
