# Reference for the irAE survival analyses (apec_sar.analysis.irae):
# time-dependent Cox (follow-up split at the irAE onset by survival::tmerge, Efron ties),
# the naive "irAE ever" model and landmark models at 42, 84 and 91 days.
# usage: Rscript irae_reference.R input.csv output.csv   (input: id, time, status, onset [NA = none])
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
td <- tmerge(d[, c("id", "time", "status")], d, id = id, event = event(time, status), irae = tdc(onset))
out <- list()
ctl <- coxph.control(eps = 1e-12, iter.max = 100)
add <- function(analysis, fit) {
  s <- summary(fit)$coefficients
  out[[length(out) + 1]] <<- data.frame(analysis = analysis, coef = s[1, "coef"], se = s[1, "se(coef)"],
                                        p = s[1, "Pr(>|z|)"], n = fit$n, events = fit$nevent)
}
add("time-dependent", coxph(Surv(tstart, tstop, event) ~ irae, data = td, ties = "efron", control = ctl))
d$ever <- as.integer(!is.na(d$onset))
add("naive", coxph(Surv(time, status) ~ ever, data = d, ties = "efron", control = ctl))
for (L in c(42, 84, 91)) {
  l <- d[d$time > L, ]
  l$irae <- as.integer(!is.na(l$onset) & l$onset <= L)
  add(paste0("landmark ", L), coxph(Surv(time - L, status) ~ irae, data = l, ties = "efron", control = ctl))
}
write.csv(do.call(rbind, out), args[2], row.names = FALSE)
