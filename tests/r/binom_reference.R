# Clopper-Pearson reference values from R's binom.test. usage: Rscript binom_reference.R n out.csv
args <- commandArgs(trailingOnly = TRUE)
n <- as.integer(args[1])
out <- do.call(rbind, lapply(0:n, function(x) {
  ci <- binom.test(x, n)$conf.int
  data.frame(x = x, n = n, lower = ci[1], upper = ci[2])
}))
write.csv(out, args[2], row.names = FALSE)
