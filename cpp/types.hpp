// Matrix and map types shared by the core. Inputs from Python are wrapped, never copied:
// dense arrays arrive as column-major Eigen::Map/Ref, sparse matrices as the three CSC arrays.
#pragma once

#include <Eigen/Dense>
#include <Eigen/SparseCore>

namespace mixedfit {

using Index = Eigen::Index;
using SpMat = Eigen::SparseMatrix<double, Eigen::ColMajor, int>;
using MapSpMat = Eigen::Map<const SpMat>;
using MapMat = Eigen::Map<const Eigen::MatrixXd>;
using MapVec = Eigen::Map<const Eigen::VectorXd>;
using MapVecI = Eigen::Map<const Eigen::VectorXi>;

}  // namespace mixedfit
