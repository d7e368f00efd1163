# Logistic regression reference from R glm: estimates, SE, Wald CI (confint.default), p, and
# profile-likelihood CIs computed from glm deviances with an offset (uniroot), so no MASS needed.
# usage: Rscript glm_reference.R in.csv out.csv formula_rhs
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = TRUE)
form <- as.formula(paste("resp ~", args[3]))
f <- glm(form, family = binomial, data = d, control = glm.control(epsilon = 1e-14, maxit = 100))
X <- model.matrix(f); y <- f$y
crit <- qchisq(0.95, 1)
prof <- function(k, b) {
  if (ncol(X) == 1) { p <- plogis(b * X[, 1]); return(-2 * sum(y * log(p) + (1 - y) * log(1 - p))) }
  glm.fit(X[, -k, drop = FALSE], y, family = binomial(), offset = b * X[, k],
          control = glm.control(epsilon = 1e-14, maxit = 100))$deviance
}
s <- summary(f)$coefficients
ci <- confint.default(f)
out <- data.frame(term = rownames(s), coef = s[, 1], se = s[, 2], lower = ci[, 1], upper = ci[, 2], p = s[, 4],
                  pl_lower = NA, pl_upper = NA)
for (k in seq_len(ncol(X))) {
  g <- function(b) prof(k, b) - f$deviance - crit
  b <- coef(f)[k]; w <- s[k, 2]
  out$pl_lower[k] <- uniroot(g, c(b - 10 * w, b), tol = 1e-12)$root
  out$pl_upper[k] <- uniroot(g, c(b, b + 10 * w), tol = 1e-12)$root
}
write.csv(out, args[2], row.names = FALSE)
