# ARD-level reference: KM on months (log-log), median/quartiles with CIs, 6- and 12-month
# rates (%), reverse-KM median follow-up. usage: Rscript ard_reference.R in.csv out.csv
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(survival))
d <- read.csv(args[1])
d$months <- d$time / 30.4375
f <- survfit(Surv(months, status) ~ 1, data = d, conf.type = "log-log")
q <- quantile(f, probs = c(0.5, 0.25, 0.75))
nm <- c("MEDIAN", "Q1", "Q3")
out <- data.frame(STAT = c(nm, paste0(nm, "_LCL"), paste0(nm, "_UCL")),
                  VALUE = c(unname(q$quantile), unname(q$lower), unname(q$upper)))
for (m in c(6, 12)) {
  s <- summary(f, times = m, extend = TRUE)
  out <- rbind(out, data.frame(STAT = paste0("AT_RISK_", m, "M"), VALUE = s$n.risk))
  if (m <= max(d$months)) {
    out <- rbind(out, data.frame(STAT = paste0("RATE_", m, "M", c("", "_LCL", "_UCL")),
                                 VALUE = 100 * c(s$surv, s$lower, s$upper)))
  }
}
r <- survfit(Surv(months, 1 - status) ~ 1, data = d, conf.type = "log-log")
qr <- quantile(r, probs = 0.5)
out <- rbind(out, data.frame(STAT = c("FOLLOWUP_MEDIAN", "FOLLOWUP_LCL", "FOLLOWUP_UCL"),
                             VALUE = c(unname(qr$quantile), unname(qr$lower), unname(qr$upper))))
write.csv(out, args[2], row.names = FALSE)
