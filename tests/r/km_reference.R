# Reference values from R survival for the Python KM implementation.
# usage: Rscript km_reference.R input.csv output.csv   (input: time,status[,group])
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(survival))
d <- read.csv(args[1])
out <- list()
for (ct in c("plain", "log", "log-log")) {
  f <- survfit(Surv(time, status) ~ 1, data = d, conf.type = ct)
  q <- quantile(f, probs = c(0.25, 0.5, 0.75))
  for (i in 1:3) {
    p <- c(0.25, 0.5, 0.75)[i]
    out[[length(out) + 1]] <- data.frame(conf_type = ct, stat = "quantile", x = p,
      est = unname(q$quantile[i]), lower = unname(q$lower[i]), upper = unname(q$upper[i]))
  }
  for (i in seq_along(f$time)) {
    out[[length(out) + 1]] <- data.frame(conf_type = ct, stat = "curve", x = f$time[i],
      est = f$surv[i], lower = f$lower[i], upper = f$upper[i])
  }
  for (t in c(30, 90, 180, 365)) {
    s <- summary(f, times = t, extend = TRUE)
    out[[length(out) + 1]] <- data.frame(conf_type = ct, stat = "landmark", x = t,
      est = s$surv, lower = s$lower, upper = s$upper)
  }
  r <- survfit(Surv(time, 1 - status) ~ 1, data = d, conf.type = ct)
  qr <- quantile(r, probs = 0.5)
  out[[length(out) + 1]] <- data.frame(conf_type = ct, stat = "reverse_km_median", x = 0.5,
    est = unname(qr$quantile), lower = unname(qr$lower), upper = unname(qr$upper))
}
res <- do.call(rbind, out)
write.csv(res, args[2], row.names = FALSE)
