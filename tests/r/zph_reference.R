# cox.zph reference (R survival >= 3.0 score test) for every transform, per term and per column.
# usage: Rscript zph_reference.R input.csv output.csv formula_rhs ties
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(survival))
d <- read.csv(args[1], stringsAsFactors = TRUE)
f <- coxph(as.formula(paste("Surv(time, status) ~", args[3])), data = d, ties = args[4],
           control = coxph.control(eps = 1e-12, toler.chol = 1e-15, iter.max = 100))
out <- list()
for (tr in c("km", "rank", "identity", "log")) for (tm in c(TRUE, FALSE)) {
  z <- cox.zph(f, transform = tr, terms = tm)$table
  out[[length(out) + 1]] <- data.frame(transform = tr, terms = tm, term = rownames(z), chisq = z[, "chisq"],
                                       df = z[, "df"], p = z[, "p"])
}
write.csv(do.call(rbind, out), args[2], row.names = FALSE)
