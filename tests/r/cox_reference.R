# Cox reference values from R survival (Efron ties, Wald CIs).
# usage: Rscript cox_reference.R input.csv output.csv formula_rhs
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(survival))
d <- read.csv(args[1], stringsAsFactors = TRUE)
f <- coxph(as.formula(paste("Surv(time, status) ~", args[3])), data = d, ties = "efron",
           control = coxph.control(eps = 1e-12, iter.max = 100))
s <- summary(f)
ci <- s$conf.int
out <- data.frame(term = rownames(s$coefficients), coef = s$coefficients[, "coef"],
                  se = s$coefficients[, "se(coef)"], hr = ci[, "exp(coef)"],
                  lower = ci[, "lower .95"], upper = ci[, "upper .95"], p_wald = s$coefficients[, "Pr(>|z|)"])
out <- rbind(out, data.frame(term = c("loglik_null", "loglik", "lr_stat"), coef = c(f$loglik, s$logtest[1]),
                             se = NA, hr = NA, lower = NA, upper = NA, p_wald = NA))
write.csv(out, args[2], row.names = FALSE)
